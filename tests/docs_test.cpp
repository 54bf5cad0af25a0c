// tests/docs_test.cpp -- the docs say only what the repository holds.
//
// 1. Every listing is a compiled example. A listing in README.md or a
//    markdown file under docs/ (docs/tutorial/ included) is announced by a
//    comment line
//
//     <!-- listing: examples/hello_loop.cpp -->            (the whole file)
//     <!-- listing: examples/echo_server.cpp#accept -->    (a marked region)
//
//    followed by a fenced code block. The block must equal the file (or the
//    lines between "// [accept]" and "// [/accept]" in it, markers
//    excluded), so a listing cannot drift from the code that `make` compiles.
//
// 2. Every fenced code block under docs/ is either such a listing or marked
//    as a sketch: the line just before its opening fence is
//
//     <!-- sketch -->            or    <!-- sketch: a diagram, not code -->
//
//    A sketch is shown, not compiled: a diagram, a shell session, output to
//    expect, or code that leaves out what a real program needs. The marker
//    makes that choice visible to the writer and the reviewer; code a reader
//    is meant to build belongs in examples/ and in the doc as a listing.
//
// 3. Every repository path the docs and the source comments name exists: a
//    token starting with src/, include/, docs/, examples/, tests/ or
//    scripts/ (not preceded by a letter, a digit, '.', '/', '$' or '-', so
//    build/tests/x and ../shared/bench are not taken for one) in README.md,
//    in markdown under docs/ and src/, and in the comments (after // or #)
//    of src/, include/, examples/, tests/ and scripts/. Braces expand
//    (src/poller/{epoll,kqueue,poll}.cpp is three paths), a glob (*) must
//    match at least one file, and a token with a placeholder in capitals
//    (tests/NAME_test.cpp) is a pattern, not a path.
//
// The suite runs from the repository's root, as `make test` runs it.
#include <doctest/doctest.h>

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
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

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Files under `dir`, recursively, whose names end with one of `exts`.
void collect(const std::string& dir, const std::vector<std::string>& exts, std::vector<std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string path = dir + "/" + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            collect(path, exts, out);
        } else if (std::any_of(exts.begin(), exts.end(), [&](const std::string& x) { return ends_with(name, x); })) {
            out.push_back(path);
        }
    }
    ::closedir(d);
}

// README.md and every markdown file under docs/ (docs/tutorial/ included).
std::vector<std::string> markdown_files() {
    std::vector<std::string> files{"README.md"};
    collect("docs", {".md"}, files);
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


// ---- fenced code blocks -------------------------------------------------------

struct Fence {
    std::string doc;
    int line;               // 1-based, the opening fence
    std::string before;     // the line just before it, leading blanks trimmed
};

std::string trim_left(const std::string& s) {
    const auto a = s.find_first_not_of(" \t");
    return a == std::string::npos ? std::string() : s.substr(a);
}

// The opening fences of `doc` (``` or ~~~, indented up to a list item's depth).
std::vector<Fence> fences_in(const std::string& doc) {
    std::vector<Fence> out;
    std::istringstream in(read_text(doc));
    std::string line;
    std::string previous;
    std::string open;  // the fence that opened the current block, empty outside one
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const std::string t = trim_left(line);
        const bool fence = t.rfind("```", 0) == 0 || t.rfind("~~~", 0) == 0;
        if (fence && open.empty()) {
            open = t.substr(0, 3);
            out.push_back(Fence{doc, number, trim_left(previous)});
        } else if (fence && t.rfind(open, 0) == 0 && t.find_first_not_of(open[0]) == std::string::npos) {
            open.clear();
        }
        previous = line;
    }
    return out;
}

// ---- repository paths in prose and comments -------------------------------------

const char* const kRoots[] = {"src/", "include/", "docs/", "examples/", "tests/", "scripts/"};

bool path_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == '-' ||
           c == '*' || c == '+';
}

// The path-like tokens of `text`: a root at a token boundary, then path
// characters, with commas allowed inside braces.
std::vector<std::string> path_tokens(const std::string& text) {
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        const char* root = nullptr;
        for (const char* r : kRoots) {
            if (text.compare(pos, std::strlen(r), r) == 0) root = r;
        }
        if (root == nullptr) continue;
        if (pos > 0) {
            const char b = text[pos - 1];
            if (std::isalnum(static_cast<unsigned char>(b)) != 0 || b == '_' || b == '.' || b == '/' || b == '$' ||
                b == '-') {
                continue;
            }
        }
        std::size_t end = pos;
        int depth = 0;
        while (end < text.size()) {
            const char c = text[end];
            if (c == '{') {
                ++depth;
            } else if (c == '}' && depth > 0) {
                --depth;
            } else if (!(path_char(c) || (c == ',' && depth > 0))) {
                break;
            }
            ++end;
        }
        std::string token = text.substr(pos, end - pos);
        while (!token.empty() && (token.back() == '.' || token.back() == ',' || token.back() == '-')) token.pop_back();
        if (depth == 0) out.push_back(token);
        pos = end;
    }
    return out;
}

// A missing path with a placeholder in capitals (NAME, FOO: three or more
// in a row) or "..." is a pattern, not a path. (README.md exists, so real
// names in capitals never reach this test.)
bool has_placeholder(const std::string& token) {
    std::size_t run = 0;
    for (char c : token) {
        if (std::isupper(static_cast<unsigned char>(c)) != 0) {
            if (++run >= 3) return true;
        } else {
            run = 0;
        }
    }
    return token.find("...") != std::string::npos;
}

// `token` with its first {a,b,...} group expanded, recursively.
std::vector<std::string> expand_braces(const std::string& token) {
    const auto open = token.find('{');
    if (open == std::string::npos) return {token};
    int depth = 0;
    std::size_t close = open;
    std::vector<std::size_t> commas;
    for (std::size_t i = open; i < token.size(); ++i) {
        if (token[i] == '{') ++depth;
        if (token[i] == '}' && --depth == 0) {
            close = i;
            break;
        }
        if (token[i] == ',' && depth == 1) commas.push_back(i);
    }
    std::vector<std::string> out;
    std::size_t start = open + 1;
    commas.push_back(close);
    for (std::size_t comma : commas) {
        const std::string expanded = token.substr(0, open) + token.substr(start, comma - start) + token.substr(close + 1);
        for (const std::string& e : expand_braces(expanded)) out.push_back(e);
        start = comma + 1;
    }
    return out;
}

bool path_exists(const std::string& path) {
    // examples/NAME stands for the program built from examples/NAME.cpp.
    if (path.rfind("examples/", 0) == 0 && path.find('.') == std::string::npos && path_exists(path + ".cpp")) {
        return true;
    }
    if (path.find_first_of("*?[") != std::string::npos) {
        glob_t g{};
        const bool found = ::glob(path.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0;
        ::globfree(&g);
        return found;
    }
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// The comment text of a source file: what follows // (C++) or a # that
// starts a word (shell), line by line.
std::string comments_of(const std::string& path) {
    const bool shell = ends_with(path, ".sh") || ends_with(path, ".py");
    std::istringstream in(read_text(path));
    std::string out;
    for (std::string line; std::getline(in, line);) {
        std::size_t at = std::string::npos;
        if (shell) {
            for (std::size_t i = line.find('#'); i != std::string::npos; i = line.find('#', i + 1)) {
                if (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t') {
                    at = i;
                    break;
                }
            }
        } else {
            at = line.find("//");
        }
        if (at != std::string::npos) out += line.substr(at) + "\n";
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

TEST_CASE("every fenced code block under docs/ is a checked listing or marked as a sketch") {
    std::string unmarked;
    int blocks = 0;
    for (const std::string& doc : markdown_files()) {
        if (doc.rfind("docs/", 0) != 0) continue;
        for (const Fence& f : fences_in(doc)) {
            ++blocks;
            const bool listing = f.before.rfind("<!-- listing: ", 0) == 0;
            const bool sketch = f.before.rfind("<!-- sketch -->", 0) == 0 || f.before.rfind("<!-- sketch: ", 0) == 0;
            if (!listing && !sketch) unmarked += "  " + f.doc + ":" + std::to_string(f.line) + "\n";
        }
    }
    INFO("blocks neither <!-- listing: FILE --> nor <!-- sketch -->:\n" << unmarked);
    CHECK(unmarked.empty());
    CHECK(blocks >= 10);  // the docs have code; finding none would mean a broken scan
}

TEST_CASE("every repository path the docs and the source comments name exists") {
    std::vector<std::pair<std::string, std::string>> texts;  // (file, text to scan)
    std::vector<std::string> prose = markdown_files();
    collect("src", {".md"}, prose);
    for (const std::string& f : prose) texts.emplace_back(f, read_text(f));
    std::vector<std::string> sources;
    for (const char* dir : {"src", "include", "examples", "tests", "scripts"}) {
        collect(dir, {".cpp", ".hpp", ".h", ".sh", ".py"}, sources);
    }
    for (const std::string& f : sources) texts.emplace_back(f, comments_of(f));
    std::string missing;
    int checked = 0;
    for (const auto& [file, text] : texts) {
        for (const std::string& token : path_tokens(text)) {
            for (const std::string& path : expand_braces(token)) {
                ++checked;
                if (!path_exists(path) && !has_placeholder(path)) missing += "  " + file + " names " + path + "\n";
            }
        }
    }
    INFO("paths that do not exist:\n" << missing);
    CHECK(missing.empty());
    CHECK(checked >= 100);  // the docs name many files; finding few would mean a broken scan
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
