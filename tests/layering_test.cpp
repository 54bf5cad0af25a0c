// tests/layering_test.cpp -- dependencies point down only.
//
// Each folder src/<layer>/ opens with a README.md that says, in two
// paragraphs, what the layer may include and which public headers are its
// own:
//
//     Public headers: `event_loop.hpp`, `event_loop_threads.hpp`.
//     May use: `base/`, `poller/`.
//
// (a layer without public headers leaves the first line out). This suite
// reads those READMEs and every #include in src/ and include/reactor/, and
// fails when
//   - a file in src/<layer>/ includes an internal header of a layer, or a
//     public header owned by a layer, that is neither its own nor one its
//     README allows ("loop/..." from src/poller/, <reactor/worker_pool.hpp>
//     from src/loop/);
//   - a public header includes a public header of a layer its owner may
//     not use, or any internal header (those are not installed);
//   - a public header is claimed by no README or by two, or a README
//     claims one that does not exist; the umbrella reactor.hpp is the one
//     header above every layer, and no library file may include it;
//   - the "May use" table has a cycle, so the layers have no order.
// The suite runs from the repository's root, as `make test` runs it. The
// first test case runs the same checker on a small tree held in memory,
// with deliberate bad includes, so the checker itself is shown to fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

// A tree: path (relative to the repository's root) -> text.
using Tree = std::map<std::string, std::string>;

struct Layer {
    std::set<std::string> may_use;  // layer names
    std::vector<std::string> public_headers;  // relative to include/reactor/
};

const std::string kUmbrella = "reactor.hpp";

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The paragraph of `text` that begins with `label` (up to a blank line),
// or "" if none does.
std::string paragraph(const std::string& text, const std::string& label) {
    std::istringstream in(text);
    std::string line;
    std::string out;
    bool inside = false;
    while (std::getline(in, line)) {
        if (!inside && starts_with(line, label)) inside = true;
        if (inside) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) break;
            out += line + "\n";
        }
    }
    return out;
}

// The `backticked` words of a paragraph.
std::vector<std::string> backticked(const std::string& text) {
    std::vector<std::string> words;
    std::size_t at = 0;
    while ((at = text.find('`', at)) != std::string::npos) {
        const std::size_t end = text.find('`', at + 1);
        if (end == std::string::npos) break;
        words.push_back(text.substr(at + 1, end - at - 1));
        at = end + 1;
    }
    return words;
}

struct Include {
    int line;
    bool angled;       // <...> or "..."
    std::string path;  // as written
};

std::vector<Include> includes_of(const std::string& text) {
    std::vector<Include> out;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const std::size_t hash = line.find_first_not_of(" \t");
        if (hash == std::string::npos || line[hash] != '#') continue;
        const std::size_t word = line.find_first_not_of(" \t", hash + 1);
        if (word == std::string::npos || line.compare(word, 7, "include") != 0) continue;
        const std::size_t open = line.find_first_of("<\"", word + 7);
        if (open == std::string::npos) continue;
        const char close_char = line[open] == '<' ? '>' : '"';
        const std::size_t close = line.find(close_char, open + 1);
        if (close == std::string::npos) continue;
        out.push_back(Include{number, line[open] == '<', line.substr(open + 1, close - open - 1)});
    }
    return out;
}

// Every broken rule, one line each; empty when the tree is layered.
std::vector<std::string> violations(const Tree& tree) {
    std::vector<std::string> out;
    std::map<std::string, Layer> layers;
    for (const auto& [path, text] : tree) {
        if (!starts_with(path, "src/") || !ends_with(path, "/README.md")) continue;
        const std::string name = path.substr(4, path.size() - 4 - std::string("/README.md").size());
        if (name.find('/') != std::string::npos) continue;
        Layer layer;
        const std::string may = paragraph(text, "May use:");
        if (may.empty()) out.push_back(path + ": no \"May use:\" paragraph");
        for (const std::string& w : backticked(may)) {
            if (ends_with(w, "/")) layer.may_use.insert(w.substr(0, w.size() - 1));
        }
        for (const std::string& w : backticked(paragraph(text, "Public headers:"))) {
            if (ends_with(w, ".hpp")) layer.public_headers.push_back(w);
        }
        layers[name] = layer;
    }
    if (layers.empty()) {
        out.push_back("no src/<layer>/README.md found (run from the repository's root)");
        return out;
    }
    for (const auto& [name, layer] : layers) {
        for (const std::string& used : layer.may_use) {
            if (layers.count(used) == 0) out.push_back("src/" + name + "/README.md: may use unknown layer " + used);
            if (used == name) out.push_back("src/" + name + "/README.md: lists itself");
        }
    }
    // Down only: the "may use" relation has no cycle (depth-first search).
    std::map<std::string, int> mark;  // 0 new, 1 on the path, 2 done
    std::function<void(const std::string&, std::vector<std::string>&)> visit =
        [&](const std::string& name, std::vector<std::string>& path) {
            mark[name] = 1;
            path.push_back(name);
            for (const std::string& used : layers[name].may_use) {
                if (layers.count(used) == 0) continue;
                if (mark[used] == 1) {
                    std::string cycle;
                    for (auto it = std::find(path.begin(), path.end(), used); it != path.end(); ++it) {
                        cycle += *it + " -> ";
                    }
                    out.push_back("layers form a cycle: " + cycle + used);
                } else if (mark[used] == 0) {
                    visit(used, path);
                }
            }
            path.pop_back();
            mark[name] = 2;
        };
    for (const auto& entry : layers) {
        std::vector<std::string> path;
        if (mark[entry.first] == 0) visit(entry.first, path);
    }

    // Which layer owns each public header.
    std::map<std::string, std::string> owner;
    for (const auto& [name, layer] : layers) {
        for (const std::string& h : layer.public_headers) {
            if (owner.count(h) != 0) {
                out.push_back("include/reactor/" + h + " is claimed by " + owner[h] + " and " + name);
            }
            owner[h] = name;
            if (tree.count("include/reactor/" + h) == 0) {
                out.push_back("src/" + name + "/README.md claims include/reactor/" + h + ", which does not exist");
            }
        }
    }

    const auto allowed = [&](const std::string& from, const std::string& to) {
        return from == to || layers[from].may_use.count(to) != 0;
    };
    const auto rule = [&](const std::string& from) {
        std::string r = from + " may use: ";
        for (const std::string& u : layers[from].may_use) r += u + "/ ";
        return r + "and itself";
    };

    for (const auto& [path, text] : tree) {
        if (!ends_with(path, ".hpp") && !ends_with(path, ".cpp")) continue;
        std::string from;
        bool is_public = false;
        if (starts_with(path, "include/reactor/")) {
            const std::string h = path.substr(std::string("include/reactor/").size());
            if (h == kUmbrella) continue;  // above every layer
            if (owner.count(h) == 0) {
                out.push_back(path + " is claimed by no src/<layer>/README.md (\"Public headers:\")");
                continue;
            }
            from = owner[h];
            is_public = true;
        } else if (starts_with(path, "src/")) {
            const std::size_t slash = path.find('/', 4);
            if (slash == std::string::npos) {
                out.push_back(path + " is in no layer folder");
                continue;
            }
            from = path.substr(4, slash - 4);
            if (layers.count(from) == 0) {
                out.push_back(path + ": src/" + from + "/ has no README.md");
                continue;
            }
        } else {
            continue;
        }
        for (const Include& inc : includes_of(text)) {
            const std::string where = path + ":" + std::to_string(inc.line) + " includes " +
                                      (inc.angled ? "<" + inc.path + ">" : "\"" + inc.path + "\"");
            std::string to;
            // The fault-injection seam: only the test library is compiled
            // with it (-DREACTOR_FAULT_INJECTION, from tests/fault/), so it
            // is below the library rather than above it.
            if (path == "src/base/syscall.hpp" && inc.path == "fault/syscalls.hpp") continue;
            if (inc.angled) {
                if (!starts_with(inc.path, "reactor/")) continue;  // the system's and the standard's
                const std::string h = inc.path.substr(std::string("reactor/").size());
                if (h == kUmbrella) {
                    out.push_back(where + ": the umbrella header is for users only");
                    continue;
                }
                if (owner.count(h) == 0) {
                    out.push_back(where + ", a public header that no layer owns");
                    continue;
                }
                to = owner[h];
            } else {
                if (is_public) {
                    out.push_back(where + ": a public header may not include an internal one");
                    continue;
                }
                const std::size_t slash = inc.path.find('/');
                to = slash == std::string::npos ? std::string() : inc.path.substr(0, slash);
                if (layers.count(to) == 0) {
                    out.push_back(where + ": internal includes are written \"<layer>/file\"");
                    continue;
                }
            }
            if (!allowed(from, to)) out.push_back(where + " (layer " + to + "), but " + rule(from));
        }
    }
    return out;
}

Tree read_tree() {
    namespace fs = std::filesystem;
    Tree tree;
    for (const char* root : {"src", "include/reactor"}) {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (!it->is_regular_file()) continue;
            const std::string path = it->path().generic_string();
            if (!ends_with(path, ".hpp") && !ends_with(path, ".cpp") && !ends_with(path, "README.md")) continue;
            std::ifstream in(path);
            std::ostringstream text;
            text << in.rdbuf();
            tree[path] = text.str();
        }
    }
    return tree;
}

bool reported(const std::vector<std::string>& found, const std::string& part) {
    return std::any_of(found.begin(), found.end(),
                       [&](const std::string& v) { return v.find(part) != std::string::npos; });
}

// A small layered tree: base < loop < work.
Tree sample_tree() {
    return Tree{
        {"src/base/README.md", "# base\n\nMay use: the C++ headers only.\n"},
        {"src/loop/README.md", "# loop\n\nPublic headers: `loop.hpp`.\n\nMay use: `base/`.\n"},
        {"src/work/README.md", "# work\n\nPublic headers: `pool.hpp`.\n\nMay use: `base/`, `loop/`.\n"},
        {"src/base/sys.hpp", "#pragma once\n#include <cerrno>\n"},
        {"src/loop/loop.cpp", "#include <reactor/loop.hpp>\n#include \"base/sys.hpp\"\n"},
        {"src/work/pool.cpp", "#include <reactor/pool.hpp>\n#include \"loop/x.hpp\"\n"},
        {"include/reactor/loop.hpp", "#pragma once\n#include <vector>\n"},
        {"include/reactor/pool.hpp", "#pragma once\n#include <reactor/loop.hpp>\n"},
        {"include/reactor/reactor.hpp", "#include <reactor/loop.hpp>\n#include <reactor/pool.hpp>\n"},
    };
}

}  // namespace

TEST_CASE("the checker: a layered tree passes, and each kind of bad include is reported") {
    Tree tree = sample_tree();
    const std::vector<std::string> clean = violations(tree);
    for (const std::string& v : clean) INFO(v);
    CHECK(clean.empty());

    SUBCASE("a lower layer's file includes a higher layer's internal header") {
        tree["src/loop/loop.cpp"] += "#include \"work/job.hpp\"\n";
        CHECK(reported(violations(tree), "src/loop/loop.cpp:3 includes \"work/job.hpp\" (layer work)"));
    }
    SUBCASE("a lower layer's file includes a higher layer's public header") {
        tree["src/base/sys.hpp"] += "  #  include <reactor/loop.hpp>\n";
        CHECK(reported(violations(tree), "src/base/sys.hpp:3 includes <reactor/loop.hpp> (layer loop)"));
    }
    SUBCASE("a lower public header includes a higher one") {
        tree["include/reactor/loop.hpp"] += "#include <reactor/pool.hpp>\n";
        CHECK(reported(violations(tree), "include/reactor/loop.hpp:3 includes <reactor/pool.hpp> (layer work)"));
    }
    SUBCASE("a public header includes an internal one") {
        tree["include/reactor/pool.hpp"] += "#include \"base/sys.hpp\"\n";
        CHECK(reported(violations(tree), "a public header may not include an internal one"));
    }
    SUBCASE("the library includes the umbrella header") {
        tree["src/work/pool.cpp"] += "#include <reactor/reactor.hpp>\n";
        CHECK(reported(violations(tree), "the umbrella header is for users only"));
    }
    SUBCASE("a public header nobody claims, and a claim with no header") {
        tree["include/reactor/stray.hpp"] = "#pragma once\n";
        tree.erase("include/reactor/pool.hpp");
        const auto found = violations(tree);
        CHECK(reported(found, "include/reactor/stray.hpp is claimed by no"));
        CHECK(reported(found, "claims include/reactor/pool.hpp, which does not exist"));
    }
    SUBCASE("two layers that may use each other") {
        tree["src/loop/README.md"] = "# loop\n\nPublic headers: `loop.hpp`.\n\nMay use: `base/`, `work/`.\n";
        CHECK(reported(violations(tree), "layers form a cycle"));
    }
    SUBCASE("an internal include that names no layer") {
        tree["src/work/pool.cpp"] += "#include \"pool_detail.hpp\"\n";
        CHECK(reported(violations(tree), "internal includes are written"));
    }
}

TEST_CASE("src/ and include/reactor/ include only their own layer and the layers below") {
    const Tree tree = read_tree();
    REQUIRE(tree.count("src/loop/README.md") == 1);  // run from the repository's root
    const std::vector<std::string> found = violations(tree);
    for (const std::string& v : found) FAIL_CHECK(v);
    CHECK(found.empty());
}
