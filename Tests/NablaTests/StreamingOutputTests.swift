import Foundation
import Nabla
import Testing

@testable import NablaCommand

/// Output in a pipe (`nabla … > log`, `| tee`, CI): complete lines, each readable as soon as it is
/// printed, no carriage-return redraws; on a terminal the bar still redraws; errors on stderr.
@Suite struct StreamingOutputTests {
    /// The bytes readable from `descriptor` within `timeout` seconds (none if nothing comes).
    static func available(_ descriptor: Int32, timeout: Double = 0) -> String {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout * 1000)) > 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let count = read(descriptor, &buffer, buffer.count)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }

    /// In a pipe: a line after the first batch, every 50 and the last, each one complete and in
    /// the pipe when `update` returns; nothing in between.
    @Test func linesModeWritesEachLineAsItHappens() throws {
        let pipe = Pipe()
        let reader = pipe.fileHandleForReading.fileDescriptor
        var bar = ProgressBar(title: "epoch 1/2", total: 120, console: Console(mode: .lines, output: pipe.fileHandleForWriting.fileDescriptor))
        var lines: [String] = []
        for done in 1...120 {
            bar.update(done: done, examples: 8 * done, loss: 1 / Double(done))
            let written = Self.available(reader)
            if [1, 50, 100, 120].contains(done) {
                #expect(written.hasPrefix("epoch 1/2 \(done)/120 loss "), "\(done): \(written.debugDescription)")
                #expect(written.hasSuffix("\n") && written.filter { $0 == "\n" }.count == 1, "\(written.debugDescription)")
                lines.append(written)
            } else {
                #expect(written.isEmpty, "\(done): \(written.debugDescription)")
            }
        }
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("epoch 1/2 1/120 loss 1.0000, first batch in ") && lines[1].contains(" ex/s "), "\(lines)")
        #expect(lines.allSatisfy { !$0.contains("\r") && !$0.contains("\u{1B}") })
        #expect(lines.last!.contains("120/120 loss 0.0083") && lines.last!.contains(" in "))
    }

    /// On a terminal: the bar redraws in place (`\r`, erase line), ending the line only when done.
    @Test func terminalModeRedrawsInPlace() {
        let pipe = Pipe()
        let reader = pipe.fileHandleForReading.fileDescriptor
        var bar = ProgressBar(title: "epoch 1/1", total: 3, console: Console(mode: .terminal, output: pipe.fileHandleForWriting.fileDescriptor))
        bar.update(done: 1, examples: 8, loss: 2)
        let first = Self.available(reader)
        #expect(first.hasPrefix("\r\u{1B}[2Kepoch 1/1 ██████████░░░░") && !first.contains("\n"), "\(first.debugDescription)")
        bar.update(done: 3, examples: 24, loss: 1)
        let last = Self.available(reader)
        #expect(last.hasPrefix("\r\u{1B}[2Kepoch 1/1 ") && last.hasSuffix("\n") && last.contains("3/3 loss 1.0000"), "\(last.debugDescription)")
    }

    /// Redrawing needs a terminal, and no MPI launcher (whose ranks all get a pseudo-terminal).
    @Test func modeFollowsTheTerminal() {
        #expect(Console.mode(outputIsTerminal: true, environment: ["TERM": "xterm"]) == .terminal)
        #expect(Console.mode(outputIsTerminal: false, environment: ["TERM": "xterm"]) == .lines)
        #expect(Console.mode(outputIsTerminal: true, environment: ["OMPI_COMM_WORLD_SIZE": "2"]) == .lines)
        #expect(Console.mode(outputIsTerminal: true, environment: ["PMIX_RANK": "0"]) == .lines)
    }

    /// `print` writes the whole text and a newline to the output at once, `error` to the errors.
    @Test func printAndErrorGoToTheirOwnDescriptors() {
        let output = Pipe(), errors = Pipe()
        let console = Console(mode: .lines, output: output.fileHandleForWriting.fileDescriptor, errors: errors.fileHandleForWriting.fileDescriptor)
        console.print("a table\nof two lines")
        console.print()
        console.error("Error: something")
        #expect(Self.available(output.fileHandleForReading.fileDescriptor) == "a table\nof two lines\n\n")
        #expect(Self.available(errors.fileHandleForReading.fileDescriptor) == "Error: something\n")
    }

    /// A command writes its progress and results through the console bound for the run.
    @Test func commandWritesToTheBoundConsole() throws {
        let pipe = Pipe()
        let console = Console(mode: .lines, output: pipe.fileHandleForWriting.fileDescriptor)
        let command = try WGANGP.parse(["--iterations", "2", "--hidden", "8", "--batch-size", "16"])
        try Console.$current.withValue(console) { try command.run() }
        let written = Self.available(pipe.fileHandleForReading.fileDescriptor)
        let lines = written.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first?.hasPrefix("WGAN-GP on 8 Gaussians") == true, "\(written)")
        #expect(lines.contains { $0.hasPrefix("     1/2  critic loss") } && lines.contains { $0.hasPrefix("     2/2  critic loss") }, "\(written)")
        #expect(written.hasSuffix("\n") && !written.contains("\r"))
    }

    /// No command writes around the console: every `print(` in Sources/NablaCommand is the
    /// console's, so a new line of output cannot slip back into stdio's buffer.
    @Test func commandsPrintOnlyThroughTheConsole() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/NablaCommand").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(files.contains("Console.swift"))
        let bare = try Regex(#"(^|[^.\w])(print|fputs|fflush|putchar)\("#)
        for file in files where file != "Console.swift" {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") && line.contains(bare) {
                Issue.record("\(file):\(number + 1) writes around the console: \(line)")
            }
        }
    }
}

/// The built `nabla` with its standard output and standard error in pipes, as in `nabla … | tee`.
@Suite struct StreamingCommandTests {
    /// The `nabla` executable beside the test bundle.
    static var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nabla").path
    }

    /// A tiny Fashion-MNIST folder: `train` and `test` images (plain IDX under the gzipped names,
    /// which zlib reads as they are), every label 0…9 in turn.
    static func tinyFashionMNIST(train: Int, test: Int) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-tiny-fashion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func header(_ words: [Int]) -> [UInt8] { words.flatMap { word in (0..<4).reversed().map { UInt8((word >> (8 * $0)) & 0xFF) } } }
        for (split, count) in [("train", train), ("t10k", test)] {
            let pixels = (0..<(count * 784)).map { UInt8(($0 * 7919) % 256) }
            try Data(header([0x0803, count, 28, 28]) + pixels).write(to: folder.appendingPathComponent("\(split)-images-idx3-ubyte.gz"))
            try Data(header([0x0801, count]) + (0..<count).map { UInt8($0 % 10) })
                .write(to: folder.appendingPathComponent("\(split)-labels-idx1-ubyte.gz"))
        }
        return folder
    }

    /// Starts `nabla arguments` with its output and its errors in two pipes.
    static func start(_ arguments: [String]) throws -> (process: Process, output: Int32, errors: Int32) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw InputError("\(executable) is not built: swift build --build-tests builds it")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, output.fileHandleForReading.fileDescriptor, errors.fileHandleForReading.fileDescriptor)
    }

    /// Reads `descriptor` until `done` holds for the lines so far, end of file, or `timeout`.
    static func readLines(_ descriptor: Int32, timeout: Double, until done: ([String]) -> Bool) -> (lines: [String], rest: String) {
        let deadline = Date().addingTimeInterval(timeout)
        var text = ""
        while Date() < deadline {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            if done(lines) { break }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { break }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            text += String(decoding: buffer[..<count], as: UTF8.self)
        }
        let parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return (Array(parts.dropLast()), parts.last ?? "")
    }

    /// `nabla train` in a pipe: the header, the first batch's line and the first epoch's summary
    /// are read while the run goes on (1000 epochs, stopped once they are in), one whole line at a
    /// time, with no `\r` or escape sequence.
    @Test func progressStreamsThroughAPipeWhileTraining() throws {
        let folder = try Self.tinyFashionMNIST(train: 200, test: 20)
        defer { try? FileManager.default.removeItem(at: folder) }
        let started = Date()
        let (process, output, _) = try Self.start(
            ["train", "--model", "mlp", "--data", folder.path, "--batch-size", "4", "--epochs", "1000", "--threads", "1"])
        // SIGKILL: the child inherits the test thread's signal mask, in which SIGTERM is blocked.
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        let (lines, rest) = Self.readLines(output, timeout: 60) { lines in lines.contains { $0.hasPrefix("epoch 1: train loss") } }
        let seconds = Date().timeIntervalSince(started)
        let alive = process.isRunning
        #expect(alive, "the first lines came only when the run ended (\(lines))")
        let expected = ["Training mlp on 200 images", "epoch 1/1000 1/50 loss ", "epoch 1/1000 50/50 loss ", "epoch 1: train loss "]
        #expect(lines.count >= 4 && zip(lines, expected).allSatisfy { $0.hasPrefix($1) }, "\(lines)")
        #expect(!lines.joined().contains("\r") && !lines.joined().contains("\u{1B}") && !rest.contains("\r"), "\(lines)")
        #expect(seconds < 60)
    }

    /// An error reaches standard error as one line; standard output stays empty.
    @Test func errorsGoToStandardError() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-no-data-\(UUID().uuidString)").path
        let (process, output, errors) = try Self.start(["train", "--model", "mlp", "--data", missing, "--epochs", "1"])
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        let (errorLines, errorRest) = Self.readLines(errors, timeout: 10) { _ in false }
        #expect(errorLines.count == 1 && errorLines[0].hasPrefix("Error: ") && errorLines[0].contains(missing) && errorRest.isEmpty, "\(errorLines)")
        let (outputLines, outputRest) = Self.readLines(output, timeout: 10) { _ in false }
        #expect(outputLines.isEmpty && outputRest.isEmpty, "\(outputLines) \(outputRest)")
    }
}
