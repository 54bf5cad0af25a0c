// tests/docs_test.cpp -- every listing in the docs is a compiled example.
//
// A listing in README.md, docs/*.md or docs/tutorial/*.md is announced by a
// comment line
//
//     <!-- listing: examples/hello_loop.cpp -->            (the whole file)
//     <!-- listing: examples/echo_server.cpp#accept -->    (a marked region)
//
// followed by a fenced code block. The block must equal the file (or the
// lines between "// [accept]" and "// [/accept]" in it, markers excluded),
// so a listing cannot drift from the code that `make` compiles. The suite
// runs from the repository's root, as `make test` runs it.
#include <doctest/doctest.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The .md files directly in `folder`, as "folder/name.md".
void add_markdown_in(const std::string& folder, std::vector<std::string>& files) {
    if (DIR* dir = ::opendir(folder.c_str())) {
        while (const dirent* e = ::readdir(dir)) {
            const std::string name = e->d_name;
            if (name.size() > 3 && name.compare(name.size() - 3, 3, ".md") == 0) files.push_back(folder + "/" + name);
        }
        ::closedir(dir);
    }
}

// README.md, docs/*.md and the tutorial's chapters, docs/tutorial/*.md.
std::vector<std::string> markdown_files() {
    std::vector<std::string> files{"README.md"};
    add_markdown_in("docs", files);
    add_markdown_in("docs/tutorial", files);
    std::sort(files.begin(), files.end());
    return files;
}

// The text a listing reference stands for; empty with `error` set if the
// file or region is missing.
std::string expected_listing(const std::string& ref, std::string& error) {
    const auto hash = ref.find('#');
    const std::string path = ref.substr(0, hash);
    const std::string text = read_text(path);
    if (text.empty()) {
        error = "missing or empty file " + path;
        return {};
    }
    if (hash == std::string::npos) return text;
    const std::string region = ref.substr(hash + 1);
    const std::string open = "// [" + region + "]";
    const std::string close = "// [/" + region + "]";
    const auto a = text.find(open);
    const auto b = text.find(close);
    if (a == std::string::npos || b == std::string::npos || b < a) {
        error = "region [" + region + "] not found in " + path;
        return {};
    }
    const auto start = text.find('\n', a) + 1;
    const auto end = text.rfind('\n', b) + 1;
    std::string body = text.substr(start, end - start);
    // A region is indented like the code around it; the listing is not.
    std::size_t indent = std::string::npos;
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);) {
        if (line.find_first_not_of(' ') != std::string::npos) {
            indent = std::min(indent, line.find_first_not_of(' '));
        }
    }
    std::string out;
    std::istringstream again(body);
    for (std::string line; std::getline(again, line);) {
        out += line.size() >= indent ? line.substr(indent) : std::string();
        out += '\n';
    }
    return out;
}

struct Listing {
    std::string doc;
    std::string ref;
    std::string text;
};

std::vector<Listing> listings_in(const std::string& doc) {
    std::vector<Listing> out;
    std::istringstream in(read_text(doc));
    std::string line;
    const std::string tag = "<!-- listing: ";
    while (std::getline(in, line)) {
        if (line.rfind(tag, 0) != 0) continue;
        const auto end = line.find(" -->");
        Listing l{doc, line.substr(tag.size(), end - tag.size()), {}};
        std::string fence;
        std::getline(in, fence);
        REQUIRE_MESSAGE(fence.rfind("```", 0) == 0, doc << ": listing " << l.ref << " is not followed by a code fence");
        while (std::getline(in, line) && line.rfind("```", 0) != 0) l.text += line + "\n";
        out.push_back(l);
    }
    return out;
}

}  // namespace

TEST_CASE("every listing in the docs equals the example it names") {
    int checked = 0;
    for (const std::string& doc : markdown_files()) {
        for (const Listing& l : listings_in(doc)) {
            std::string error;
            const std::string want = expected_listing(l.ref, error);
            INFO(l.doc << " -> " << l.ref);
            CHECK_MESSAGE(error.empty(), error);
            CHECK_MESSAGE(l.text == want, "the listing differs from the file; copy the file into the doc again");
            ++checked;
        }
    }
    // README.md shows at least the smallest program and the tutorial's
    // chapters quote a dozen more; a check that finds (almost) no listing
    // would pass vacuously.
    CHECK(checked >= 10);
}

TEST_CASE("the tutorial has at least ten chapters, each with a section of exercises") {
    int chapters = 0;
    for (const std::string& doc : markdown_files()) {
        if (doc.rfind("docs/tutorial/", 0) != 0) continue;
        ++chapters;
        INFO(doc);
        CHECK(read_text(doc).find("## Exercises") != std::string::npos);
    }
    CHECK(chapters >= 10);
}

TEST_CASE("every example a doc names exists") {
    for (const std::string& doc : markdown_files()) {
        const std::string text = read_text(doc);
        for (std::size_t pos = text.find("examples/"); pos != std::string::npos; pos = text.find("examples/", pos + 1)) {
            const auto end = text.find_first_of(" `)\n#,:;", pos);
            const std::string path = text.substr(pos, end - pos);
            if (path.size() < 14 || path.compare(path.size() - 4, 4, ".cpp") != 0) continue;
            if (path.find("NAME") != std::string::npos || path.find('*') != std::string::npos) continue;  // a pattern
            INFO(doc << " names " << path);
            CHECK(!read_text(path).empty());
        }
    }
}

TEST_CASE("every image a doc shows exists and is an SVG document") {
    int images = 0;
    for (const std::string& doc : markdown_files()) {
        const std::string text = read_text(doc);
        const std::string folder = doc.substr(0, doc.rfind('/') + 1);  // "" for README.md
        // ![alt](path): the path is relative to the doc's own folder.
        for (std::size_t pos = text.find("]("); pos != std::string::npos; pos = text.find("](", pos + 2)) {
            const auto bang = text.rfind("![", pos);
            const auto line = text.rfind('\n', pos);
            if (bang == std::string::npos || (line != std::string::npos && bang < line)) continue;  // not an image
            const auto end = text.find(')', pos);
            const std::string target = text.substr(pos + 2, end - pos - 2);
            if (target.size() < 4 || target.compare(target.size() - 4, 4, ".svg") != 0) continue;
            std::string path = folder + target;
            for (std::size_t up; (up = path.find("/../")) != std::string::npos;) {
                const auto parent = path.rfind('/', up - 1);
                path.erase(parent == std::string::npos ? 0 : parent + 1, up + 4 - (parent == std::string::npos ? 0 : parent + 1));
            }
            INFO(doc << " shows " << target << " (" << path << ")");
            const std::string svg = read_text(path);
            CHECK(svg.find("<svg") != std::string::npos);
            CHECK(svg.find("</svg>") != std::string::npos);
            ++images;
        }
    }
    CHECK(images >= 4);  // the tutorial's diagrams at least
}
