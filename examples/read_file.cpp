// examples/read_file.cpp -- the seed's first listing, line for line in C++.
//
// Node.js:
//
//   fs.readFile('/etc/passwd', function (err, data) {
//       if (err) throw err;
//       console.log('File content ready!');
//   });
//   console.log('Doing other things...');
//
// read_file() returns at once; the file is read on a worker thread and the
// callback runs later, on the loop thread. So "Doing other things..." is
// printed first, though it comes second in the program.
//
//   $ build/examples/read_file /etc/passwd
//   Doing other things...
//   File content ready! (1234 bytes)
//
// Usage: read_file PATH. Exit status 0, 1 if the file cannot be read (the
// error on stderr), 2 for a usage error.
#include <reactor/reactor.hpp>

#include <iostream>
#include <string>
#include <system_error>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: read_file PATH\n";
        return 2;
    }
    const std::string path = argv[1];
    reactor::EventLoop loop;

    reactor::fs::read_file(loop, path, [&](std::error_code err, std::string data) {
        // As in Node, the error escapes the callback: loop.run() rethrows it
        // below. (Node's process would die with it; we print and exit 1.)
        if (err) throw std::system_error(err, path);
        std::cout << "File content ready! (" << data.size() << " bytes)\n";
        loop.stop();  // nothing else to wait for: let run() return
    });
    std::cout << "Doing other things...\n";

    try {
        loop.run();
    } catch (const std::system_error& e) {
        std::cerr << "read_file: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
