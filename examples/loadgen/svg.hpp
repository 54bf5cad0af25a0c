// examples/loadgen/svg.hpp -- a self-contained SVG chart of one run, written
// by hand (no plotting library): three panels stacked on one time axis.
//
//   +----------------------------------------------------------+
//   | title, subtitle                                          |
//   | Throughput (per second)       ---- replies/s  ---- errors/s
//   |   axis, grid, lines                                      |
//   | Latency per second (ms)       ---- p99  ---- p50         |
//   |   ...                                                    |
//   | Connections established       ---- open connections      |
//   |   ...                            time since start (s)    |
//   +----------------------------------------------------------+
//
// Any browser shows the file; nothing is fetched from elsewhere.
#pragma once

#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace loadgen {

namespace svg_detail {

inline std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

inline std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

/// A tick step of 1, 2 or 5 times a power of ten, giving at most about
/// `ticks` intervals up to `max`.
inline double nice_step(double max, int ticks) {
    if (!(max > 0)) return 1;
    const double raw = max / ticks;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (double f : {1.0, 2.0, 5.0, 10.0}) {
        if (f * power >= raw * (1 - 1e-9)) return f * power;
    }
    return 10 * power;
}

inline std::string tick_label(double v, double step) {
    char buf[32];
    if (v == 0) return "0";
    if (step >= 1000 && std::fmod(v, 1000) == 0) {
        std::snprintf(buf, sizeof buf, "%gk", v / 1000);
    } else if (step >= 1) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%g", std::round(v / step) * step);
    }
    return buf;
}

struct Line {
    std::string label;
    std::string color;
    std::function<double(const SeriesPoint&)> value;
};

}  // namespace svg_detail

/// The words around the chart: plain text, escaped when written.
struct ChartText {
    std::string title;                   ///< one short line, bold
    std::vector<std::string> subtitles;  ///< lines under the title (at most 3 shown)
    /// When every connection was established (seconds since the start), or
    /// negative: drawn as a dashed vertical line on the connections panel,
    /// since one point per second cannot show a ramp shorter than a second.
    double established_s = -1;
    std::uint64_t established = 0;  ///< how many connections that was
    std::string established_label;
};

/// Renders the chart of `points` (one per second, in time order) as a
/// complete SVG document. With no points, the panels are drawn empty with
/// "no data".
inline std::string render_svg(const std::vector<SeriesPoint>& points, const ChartText& text) {
    using namespace svg_detail;
    constexpr double kWidth = 900, kLeft = 80, kRight = 30, kTop = 90;
    constexpr double kPanelHeight = 170, kPanelGap = 70;
    const double plot_w = kWidth - kLeft - kRight;
    const double height = kTop + 3 * kPanelHeight + 2 * kPanelGap + 60;

    double t_max = 0;
    for (const auto& p : points) t_max = std::max(t_max, p.t_s);
    const double x_step = nice_step(std::max(t_max, 1.0), 10);
    const double x_max = std::max(1.0, std::ceil(t_max / x_step - 0.01) * x_step);
    const auto x_of = [&](double t) { return kLeft + t / x_max * plot_w; };

    std::string s;
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
         num(height) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s += "<text x=\"" + num(kLeft) + "\" y=\"26\" font-size=\"16\" font-weight=\"bold\">" +
         escape(text.title) + "</text>\n";
    for (std::size_t i = 0; i < text.subtitles.size() && i < 3; ++i) {
        s += "<text x=\"" + num(kLeft) + "\" y=\"" + num(46 + 17 * static_cast<double>(i)) +
             "\" fill=\"#444\">" + escape(text.subtitles[i]) + "</text>\n";
    }

    struct Panel {
        std::string title;
        std::vector<Line> lines;
    };
    const std::vector<Panel> panels = {
        {"Throughput (per second)",
         {{"replies/s", "#1f77b4", [](const SeriesPoint& p) { return p.replies_per_s; }},
          {"errors/s", "#d62728", [](const SeriesPoint& p) { return p.errors_per_s; }}}},
        {"Latency in each second (ms)",
         {{"p99", "#ff7f0e", [](const SeriesPoint& p) { return p.p99_ms; }},
          {"p50", "#2ca02c", [](const SeriesPoint& p) { return p.p50_ms; }}}},
        {"Connections established",
         {{"open connections", "#9467bd",
           [](const SeriesPoint& p) { return static_cast<double>(p.connections_up); }}}},
    };

    for (std::size_t i = 0; i < panels.size(); ++i) {
        const Panel& panel = panels[i];
        const double top = kTop + static_cast<double>(i) * (kPanelHeight + kPanelGap) + 20;
        const double bottom = top + kPanelHeight;
        double y_max_value = 0;
        for (const auto& p : points) {
            for (const auto& line : panel.lines) y_max_value = std::max(y_max_value, line.value(p));
        }
        const double y_step = nice_step(std::max(y_max_value, 1e-3), 5);
        const double y_max = std::max(y_step, std::ceil(y_max_value / y_step - 1e-9) * y_step);
        const auto y_of = [&](double v) { return bottom - v / y_max * kPanelHeight; };

        s += "<g>\n<text x=\"" + num(kLeft) + "\" y=\"" + num(top - 10) +
             "\" font-size=\"14\" font-weight=\"bold\">" + escape(panel.title) + "</text>\n";
        // Legend, right-aligned above the plot.
        double lx = kWidth - kRight;
        for (auto it = panel.lines.rbegin(); it != panel.lines.rend(); ++it) {
            lx -= 12.0 + 7.0 * static_cast<double>(it->label.size());
            s += "<text x=\"" + num(lx) + "\" y=\"" + num(top - 10) + "\">" + escape(it->label) +
                 "</text>\n";
            lx -= 26;
            s += "<line x1=\"" + num(lx) + "\" y1=\"" + num(top - 14) + "\" x2=\"" + num(lx + 20) +
                 "\" y2=\"" + num(top - 14) + "\" stroke=\"" + it->color +
                 "\" stroke-width=\"3\"/>\n";
        }
        // Grid and y ticks.
        for (double v = 0; v <= y_max * (1 + 1e-9); v += y_step) {
            const double y = y_of(v);
            s += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(y) + "\" x2=\"" +
                 num(kLeft + plot_w) + "\" y2=\"" + num(y) + "\" stroke=\"#e4e4e4\"/>\n";
            s += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(y + 4) +
                 "\" text-anchor=\"end\">" + tick_label(v, y_step) + "</text>\n";
        }
        // x ticks (labels on every panel: each reads on its own).
        for (double t = 0; t <= x_max * (1 + 1e-9); t += x_step) {
            const double x = x_of(t);
            s += "<line x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x) +
                 "\" y2=\"" + num(bottom) + "\" stroke=\"#f0f0f0\"/>\n";
            s += "<line x1=\"" + num(x) + "\" y1=\"" + num(bottom) + "\" x2=\"" + num(x) +
                 "\" y2=\"" + num(bottom + 4) + "\" stroke=\"#333\"/>\n";
            s += "<text x=\"" + num(x) + "\" y=\"" + num(bottom + 17) +
                 "\" text-anchor=\"middle\">" + tick_label(t, x_step) + "</text>\n";
        }
        // Axes.
        s += "<polyline fill=\"none\" stroke=\"#333\" points=\"" + num(kLeft) + "," + num(top) +
             " " + num(kLeft) + "," + num(bottom) + " " + num(kLeft + plot_w) + "," +
             num(bottom) + "\"/>\n";
        if (points.empty()) {
            s += "<text x=\"" + num(kLeft + plot_w / 2) + "\" y=\"" +
                 num(top + kPanelHeight / 2) + "\" text-anchor=\"middle\" fill=\"#888\">" +
                 "no data</text>\n";
        }
        for (const auto& line : panel.lines) {
            if (points.empty()) break;
            std::string pts;
            // Connections start at zero at t = 0 and, when known, reach
            // their total at established_s (the ramp is paced, so about
            // straight); rates have no point at t = 0.
            const bool ramp = i == 2 && text.established_s >= 0;
            if (i == 2) pts = num(x_of(0)) + "," + num(y_of(0)) + " ";
            for (const auto& p : points) {
                if (ramp && p.t_s > text.established_s &&
                    (&p == &points.front() || (&p)[-1].t_s < text.established_s)) {
                    pts += num(x_of(text.established_s)) + "," +
                           num(y_of(static_cast<double>(text.established))) + " ";
                }
                pts += num(x_of(p.t_s)) + "," + num(y_of(line.value(p))) + " ";
            }
            pts.pop_back();
            s += "<polyline class=\"series\" data-series=\"" + escape(line.label) +
                 "\" fill=\"none\" stroke=\"" + line.color +
                 "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"" + pts + "\"/>\n";
            // Dots mark the measured seconds while they are few enough to
            // tell apart (and make a one-second run visible at all).
            if (points.size() <= 60) {
                for (const auto& p : points) {
                    s += "<circle cx=\"" + num(x_of(p.t_s)) + "\" cy=\"" +
                         num(y_of(line.value(p))) + "\" r=\"2.5\" fill=\"" + line.color +
                         "\"/>\n";
                }
            }
        }
        if (i == 2 && text.established_s >= 0 && text.established_s <= x_max) {
            const double x = x_of(text.established_s);
            s += "<line x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x) +
                 "\" y2=\"" + num(bottom) +
                 "\" stroke=\"#9467bd\" stroke-dasharray=\"4,3\"/>\n";
            const bool right_half = x > kLeft + plot_w / 2;
            s += "<text x=\"" + num(right_half ? x - 6 : x + 6) + "\" y=\"" +
                 num(top + kPanelHeight / 2) + "\" text-anchor=\"" +
                 (right_half ? "end" : "start") + "\" fill=\"#5b3a87\">" +
                 escape(text.established_label) + "</text>\n";
        }
        s += "</g>\n";
    }
    const double axis_y = kTop + 3 * kPanelHeight + 2 * kPanelGap + 20 + 38;
    s += "<text x=\"" + num(kLeft + plot_w / 2) + "\" y=\"" + num(axis_y) +
         "\" text-anchor=\"middle\">time since start (s)</text>\n";
    s += "</svg>\n";
    return s;
}

}  // namespace loadgen
