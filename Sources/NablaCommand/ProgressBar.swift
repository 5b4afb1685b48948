import Foundation

/// A progress line for one epoch: batches done, the running loss, examples per second and the
/// time left. On a terminal it redraws one line in place; elsewhere (a pipe, a log, CI) it writes
/// a complete line after the first batch, then every `plainEvery` batches and at the end, each
/// flushed as it is written.
struct ProgressBar {
    let title: String
    let total: Int
    let console: Console
    var plainEvery = 50
    private let start = Date()
    private var lastDraw = Date.distantPast

    init(title: String, total: Int, console: Console = .current) {
        self.title = title
        self.total = total
        self.console = console
    }

    /// Shows `done` of `total` batches, after `examples` examples, with the running loss.
    mutating func update(done: Int, examples: Int, loss: Double) {
        let elapsed = Date().timeIntervalSince(start)
        let finished = done == total
        switch console.mode {
        case .terminal:
            guard finished || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            let width = 30
            let filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            console.redraw("\(title) \(bar) \(line(done, examples, loss, elapsed))", finished: finished)
        case .lines:
            if done == 1 && !finished {
                // The first batch too, so a log shows at once that training has started; its rate
                // (warming up) would say ten times the time left.
                console.print("\(title) 1/\(total) loss \(String(format: "%.4f", loss)), first batch in \(format(seconds: elapsed))")
            } else if finished || done % plainEvery == 0 {
                console.print("\(title) \(line(done, examples, loss, elapsed))")
            }
        }
    }

    private func line(_ done: Int, _ examples: Int, _ loss: Double, _ elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(examples) / elapsed : 0
        let left = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        return "\(done)/\(total) loss \(String(format: "%.4f", loss)) "
            + "\(String(format: "%.0f", rate)) ex/s "
            + (done == total ? "in \(format(seconds: elapsed))" : "\(format(seconds: left)) left")
    }
}

/// `1m 05s`, or `12.3s` under a minute.
func format(seconds: Double) -> String {
    seconds < 60
        ? String(format: "%.1fs", seconds)
        : String(format: "%dm %02ds", Int(seconds) / 60, Int(seconds) % 60)
}
