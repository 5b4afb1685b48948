import Foundation

/// What went wrong reading a text corpus: each case names the folder or file, and prints as one
/// line saying how to get the data.
public enum CorpusError: Error, Equatable, CustomStringConvertible {
    /// The folder does not exist or is not a folder.
    case missingFolder(path: String, package: String)
    /// The folder holds no text, or no fortune for one of the two splits.
    case empty(path: String, package: String)
    /// A file could not be read.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingFolder(let path, let package):
            "\(path): no such folder (install the \(package) package: apt-get install \(package), or make; or pass --data)"
        case .empty(let path, let package):
            "\(path): no text to train on (install the \(package) package: apt-get install \(package), or make; or pass --data)"
        case .unreadable(let path, let reason): "\(path): cannot be read: \(reason)"
        }
    }
}

/// The plain-text files of Debian's `fortunes` package, split into training and validation text.
///
/// **The files.** Every regular file of the folder (symbolic links such as `*.u8` and
/// sub-folders are skipped) whose name does not start with `.` or end in `.dat` (strfile's
/// index) and that holds no NUL byte, read as UTF-8, in sorted name order (by Unicode scalar
/// values).
///
/// **The fortunes.** A file is split into lines at `"\n"` (a final `"\n"` ends the last line);
/// a line holding only `%` ends a fortune; a fortune is the lines before it, each followed by
/// `"\n"`, and one with no lines is dropped.
///
/// **The split.** Counting the fortunes of all files in that order from 0, fortune `i` goes to
/// validation when `i % 10 == 9` (every 10th), else to training. Each split's text is its
/// fortunes in order, each followed by `"%\n"`, so a model learns where a fortune ends.
/// `Benchmarks/torch/char_lm.py` implements the same rule.
public struct FortuneCorpus: Sendable {
    /// Where Debian's `fortunes` package puts its files.
    public static let defaultDirectory = "/usr/share/games/fortunes"
    /// Every `validationPeriod`-th fortune goes to validation.
    public static let validationPeriod = 10
    /// The line that separates fortunes.
    public static let separator = "%"

    /// The files read, by name, in order.
    public let files: [String]
    /// The training text.
    public let training: [Unicode.Scalar]
    /// The validation text.
    public let validation: [Unicode.Scalar]
    /// The number of fortunes in each split.
    public let trainingFortunes: Int
    public let validationFortunes: Int

    /// Reads and splits the corpus in `directory`.
    ///
    /// - Throws: ``CorpusError`` if the folder is missing, a file cannot be read, or either split
    ///   is empty; the message says to install `package`.
    public init(directory: String = FortuneCorpus.defaultDirectory, package: String = "fortunes") throws(CorpusError) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw .missingFolder(path: directory, package: package)
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw .unreadable(path: directory, reason: "\(error.localizedDescription)")
        }
        var files: [String] = []
        var training: [Unicode.Scalar] = [], validation: [Unicode.Scalar] = []
        var counts = (training: 0, validation: 0)
        var index = 0
        for name in names.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) })
        where !name.hasPrefix(".") && !name.hasSuffix(".dat") {
            let path = directory + "/" + name
            guard Self.isRegularFile(path) else { continue }
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw .unreadable(path: path, reason: "permission denied or an I/O error")
            }
            guard !bytes.contains(0) else { continue }
            files.append(name)
            for fortune in Self.fortunes(in: String(decoding: bytes, as: UTF8.self)) {
                if index % Self.validationPeriod == Self.validationPeriod - 1 {
                    validation += fortune
                    counts.validation += 1
                } else {
                    training += fortune
                    counts.training += 1
                }
                index += 1
            }
        }
        guard counts.training > 0 && counts.validation > 0 else { throw .empty(path: directory, package: package) }
        self.files = files
        self.training = training
        self.validation = validation
        trainingFortunes = counts.training
        validationFortunes = counts.validation
    }

    /// The fortunes of one file's text, each as its lines (each followed by `"\n"`) and `"%\n"`.
    /// Works on Unicode scalars, so that `"\r\n"` is two scalars, not one `Character`.
    static func fortunes(in text: String) -> [[Unicode.Scalar]] {
        let newline: Unicode.Scalar = "\n", separator = Array(Self.separator.unicodeScalars)
        var fortunes: [[Unicode.Scalar]] = []
        var fortune: [Unicode.Scalar] = [], line: [Unicode.Scalar] = []
        func endFortune() {
            if !fortune.isEmpty { fortunes.append(fortune + separator + [newline]) }
            fortune = []
        }
        func endLine() {
            if line == separator { endFortune() } else { fortune += line + [newline] }
            line = []
        }
        for scalar in text.unicodeScalars {
            if scalar == newline { endLine() } else { line.append(scalar) }
        }
        if !line.isEmpty { endLine() }
        endFortune()
        return fortunes
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }
}

/// The characters of a text as indices: Unicode scalars, index 0 for the unknown symbol, then
/// every scalar of the text it was built from in increasing order of value.
///
/// A scalar the building text lacks (a validation character never seen in training) encodes as
/// index 0, and index 0 decodes as U+FFFD.
public struct CharacterVocabulary: Sendable, Equatable {
    /// The index of the unknown symbol.
    public static let unknown = 0
    /// What ``decode(_:)`` gives for the unknown symbol.
    public static let unknownScalar: Unicode.Scalar = "\u{FFFD}"

    /// The known scalars, in increasing order; scalar `i` has index `i + 1`.
    public let scalars: [Unicode.Scalar]
    private let indices: [Unicode.Scalar: Int]

    /// The vocabulary of every scalar in `text`.
    public init(_ text: some Sequence<Unicode.Scalar>) {
        self.init(scalars: Set(text).sorted { $0.value < $1.value })
    }

    /// The vocabulary of `scalars`, which must be distinct and in increasing order.
    public init(scalars: [Unicode.Scalar]) {
        Misuse.check(
            zip(scalars, scalars.dropFirst()).allSatisfy { $0.value < $1.value }, "CharacterVocabulary",
            "\(scalars.count) scalars: they must be distinct and in increasing order")
        self.scalars = scalars
        indices = Dictionary(uniqueKeysWithValues: scalars.enumerated().map { ($1, $0 + 1) })
    }

    /// The number of indices: the known scalars and the unknown symbol.
    public var count: Int { scalars.count + 1 }

    /// Each scalar's index (``unknown`` for a scalar not in the vocabulary).
    public func encode(_ text: some Sequence<Unicode.Scalar>) -> [Int] {
        text.map { indices[$0] ?? Self.unknown }
    }

    /// The text of `indices`, each in `0..<count`.
    public func decode(_ indices: some Sequence<Int>) -> String {
        var text = String.UnicodeScalarView()
        for index in indices {
            Misuse.check((0..<count).contains(index), "CharacterVocabulary", "index \(index) is out of range for \(count) symbols")
            text.append(index == Self.unknown ? Self.unknownScalar : scalars[index - 1])
        }
        return String(text)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.scalars == rhs.scalars }
}
