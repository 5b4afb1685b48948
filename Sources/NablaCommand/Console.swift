import ArgumentParser
import Foundation

/// Where a command writes, and how. On a terminal a progress bar redraws one line in place;
/// anywhere else (a pipe, a file, CI, `| tee`) every line is complete, ends in a newline and
/// reaches the reader when it is printed: no `\r`, no escape sequences, no buffering until exit.
/// Progress and results go to `output`, errors and warnings to `errors`.
///
/// `NablaCommand.main` decides the mode once, from `isatty(STDOUT_FILENO)` (see
/// ``mode(outputIsTerminal:environment:)``), and binds it to
/// `Console.current` for the run; tests bind their own (a pipe they read back, either mode).
struct Console: Sendable {
    enum Mode: Sendable {
        /// The progress bar redraws in place (`\r`, ANSI erase line).
        case terminal
        /// One complete line at a time, each written as soon as it is printed.
        case lines
    }

    var mode: Mode
    /// The file descriptor of progress and results.
    var output: Int32 = STDOUT_FILENO
    /// The file descriptor of errors and warnings.
    var errors: Int32 = STDERR_FILENO

    /// The console of the running command: lines on standard output unless `NablaCommand.main`
    /// (or a test) binds another.
    @TaskLocal static var current = Console(mode: .lines)

    /// Standard output and standard error, redrawing only if standard output is a terminal.
    static func standard() -> Console {
        Console(mode: mode(outputIsTerminal: isatty(STDOUT_FILENO) != 0, environment: ProcessInfo.processInfo.environment))
    }

    /// A terminal redraws, except under an MPI launcher: `mpirun` gives each rank a
    /// pseudo-terminal of its own even when its own output is a pipe or a file, so a rank cannot
    /// tell, and writes lines.
    static func mode(outputIsTerminal: Bool, environment: [String: String]) -> Mode {
        let launchedByMPI = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
        return outputIsTerminal && !launchedByMPI ? .terminal : .lines
    }

    /// Writes `text` and a newline to `output`, at once.
    func print(_ text: String = "") {
        send(text + "\n", to: output)
    }

    /// Writes `text` and a newline to `errors`, at once.
    func error(_ text: String) {
        send(text + "\n", to: errors)
    }

    /// On a terminal, replaces the current line with `text` (no newline unless `finished`).
    func redraw(_ text: String, finished: Bool) {
        precondition(mode == .terminal, "only a terminal redraws")
        send("\r\u{1B}[2K" + text + (finished ? "\n" : ""), to: output)
    }

    /// Writes every byte of `text` straight to `descriptor`, no stdio buffer in between (FileHandle
    /// retries after a signal or a partial write); gives up quietly if the reader has gone.
    func send(_ text: String, to descriptor: Int32) {
        try? FileHandle(fileDescriptor: descriptor, closeOnDealloc: false).write(contentsOf: Data(text.utf8))
    }
}

extension ParsableCommand {
    /// The console this run writes to.
    var console: Console { .current }
}
