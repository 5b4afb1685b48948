import Foundation

/// A minimal SVG chart: panels side by side, each with line series or scatter points, axes with
/// a few ticks, and a legend. Enough for training curves and 2-D samples.
struct SVGPlot {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
        var isScatter = false
    }

    struct Panel {
        var title: String
        var xLabel: String
        var series: [Series]
        /// Equal scales on both axes (for 2-D samples).
        var isSquare = false
    }

    var panels: [Panel]
    let panelWidth = 420.0, panelHeight = 320.0, margin = 50.0

    /// The SVG document.
    func render() -> String {
        let width = Double(panels.count) * (panelWidth + margin) + margin
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(panelHeight + 2 * margin))" font-family="Helvetica, Arial, sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
        ]
        for (index, panel) in panels.enumerated() {
            svg += render(panel, left: margin + Double(index) * (panelWidth + margin), top: margin)
        }
        return (svg + ["</svg>"]).joined(separator: "\n")
    }

    /// Writes the document atomically: a temporary file, then renamed.
    func write(to path: String) throws {
        try Data(render().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    private func render(_ panel: Panel, left: Double, top: Double) -> [String] {
        let points = panel.series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        guard !points.isEmpty else { return [] }
        var (xMin, xMax) = (points.map(\.x).min()!, points.map(\.x).max()!)
        var (yMin, yMax) = (points.map(\.y).min()!, points.map(\.y).max()!)
        if panel.isSquare {
            (xMin, xMax, yMin, yMax) = (min(xMin, yMin), max(xMax, yMax), min(xMin, yMin), max(xMax, yMax))
        }
        if xMax == xMin { (xMin, xMax) = (xMin - 1, xMax + 1) }
        if yMax == yMin { (yMin, yMax) = (yMin - 1, yMax + 1) }
        let x = { (value: Double) in left + (value - xMin) / (xMax - xMin) * self.panelWidth }
        let y = { (value: Double) in top + self.panelHeight - (value - yMin) / (yMax - yMin) * self.panelHeight }
        var out = [
            ##"<text x="\##(left)" y="\##(top - 12)" font-weight="bold">\##(escape(panel.title))</text>"##,
            ##"<rect x="\##(left)" y="\##(top)" width="\##(panelWidth)" height="\##(panelHeight)" fill="none" stroke="#888"/>"##,
            ##"<text x="\##(left + panelWidth / 2)" y="\##(top + panelHeight + 34)" text-anchor="middle">\##(escape(panel.xLabel))</text>"##,
        ]
        for step in 0...4 {
            let fraction = Double(step) / 4
            let xValue = xMin + fraction * (xMax - xMin), yValue = yMin + fraction * (yMax - yMin)
            out.append(##"<text x="\##(x(xValue))" y="\##(top + panelHeight + 16)" text-anchor="middle" fill="#555">\##(tick(xValue))</text>"##)
            out.append(##"<text x="\##(left - 6)" y="\##(y(yValue) + 4)" text-anchor="end" fill="#555">\##(tick(yValue))</text>"##)
        }
        for (index, series) in panel.series.enumerated() {
            let finite = series.points.filter { $0.x.isFinite && $0.y.isFinite }
            if series.isScatter {
                for point in finite {
                    out.append(##"<circle cx="\##(x(point.x))" cy="\##(y(point.y))" r="1.6" fill="\##(series.color)" fill-opacity="0.55"/>"##)
                }
            } else if !finite.isEmpty {
                let path = finite.map { "\(x($0.x)),\(y($0.y))" }.joined(separator: " ")
                out.append(##"<polyline points="\##(path)" fill="none" stroke="\##(series.color)" stroke-width="1.6"/>"##)
            }
            let legendY = top + 16 + Double(index) * 16
            out.append(##"<rect x="\##(left + panelWidth - 150)" y="\##(legendY - 9)" width="10" height="10" fill="\##(series.color)"/>"##)
            out.append(##"<text x="\##(left + panelWidth - 134)" y="\##(legendY)">\##(escape(series.name))</text>"##)
        }
        return out
    }

    private func tick(_ value: Double) -> String {
        if abs(value) >= 1000 && abs(value) < 1e7 { return String(format: "%.0f", value) }
        return abs(value) >= 1e7 || (abs(value) < 0.01 && value != 0)
            ? String(format: "%.1e", value) : String(format: "%.3g", value)
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
