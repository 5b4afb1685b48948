import Foundation

/// An output path given on the command line that cannot be written; it prints as one line.
struct OutputPathError: Error, CustomStringConvertible {
    let option: String
    let problem: String
    var description: String { "\(option): \(problem)" }
}

/// The command line's outputs (`--save`, `--plot`, …) are checked before any work starts, so
/// that a run never ends by failing to write what it computed.
enum OutputPath {
    /// Checks that a file can be written at `path`: its folder exists, is a folder and is
    /// writable, and `path` is not itself a folder.
    static func check(_ path: String?, option: String) throws(OutputPathError) {
        guard let path else { return }
        guard !path.isEmpty else { throw OutputPathError(option: option, problem: "the path is empty") }
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            throw OutputPathError(option: option, problem: "the folder \(folder) does not exist")
        }
        guard isFolder.boolValue else { throw OutputPathError(option: option, problem: "\(folder) is not a folder") }
        guard access(folder, W_OK) == 0 else {
            throw OutputPathError(option: option, problem: "the folder \(folder) is not writable")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw OutputPathError(option: option, problem: "\(path) is a folder")
        }
    }
}
