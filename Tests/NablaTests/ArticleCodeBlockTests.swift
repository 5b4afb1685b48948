import Foundation
import Testing

/// The Swift code blocks of the DocC articles, read from the catalog, and where the tests run
/// them: every block must appear verbatim (at any indentation of whole lines) in one of the
/// listed files, so that an article cannot drift from the code the tests compile and run.
struct ArticleCode: Sendable, CustomTestStringConvertible {
    /// The article's file name in `Sources/Nabla/Nabla.docc`, without `.md`.
    let article: String
    /// The files that hold its blocks, relative to the repository's root.
    let files: [String]

    var testDescription: String { article }

    static let all: [ArticleCode] = [
        .init(article: "PortingFromPyTorch", files: ["Tests/NablaTests/PortingArticleExampleTests.swift"]),
        .init(article: "ChoosingTheBackwardPath", files: ["Tests/NablaTests/BackwardPathArticleExampleTests.swift"]),
        .init(article: "WritingALayer", files: [
            "Tests/NablaTests/WritingALayerArticleExampleTests.swift",
            "Tests/NablaTests/LayerCases+WritingALayer.swift",
            "Sources/Nabla/Layers/Conv2D.swift",
        ]),
        .init(article: "CustomLayers", files: ["Tests/NablaTests/CustomLayersArticleExampleTests.swift"]),
        .init(article: "Training", files: ["Tests/NablaTests/TrainingArticleBlockTests.swift"]),
    ]

    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The bodies of the article's ```` ```swift ```` blocks, in order.
    static func swiftBlocks(in markdown: String) -> [String] {
        var blocks: [String] = [], current: [Substring]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil {
                if line.trimmingCharacters(in: .whitespaces) == "```swift" { current = [] }
            } else if line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current!.append(line)
            }
        }
        return blocks
    }

    /// Whether `block` appears in `source` with every non-empty line indented by the same
    /// number of spaces (0 to 12). Leading `import` lines are file-level, so they are left out.
    static func contains(_ source: String, _ block: String) -> Bool {
        let lines = block.split(separator: "\n", omittingEmptySubsequences: false)
            .drop { $0.hasPrefix("import ") || $0.isEmpty }
        return stride(from: 0, through: 12, by: 4).contains { indent in
            let prefix = String(repeating: " ", count: indent)
            let indented = lines.map { $0.isEmpty ? "" : prefix + $0 }.joined(separator: "\n")
            return source.contains(indented)
        }
    }
}

@Suite struct ArticleCodeBlockTests {
    /// Every Swift block of the article is code a test compiles and runs.
    @Test(arguments: ArticleCode.all)
    func everySwiftBlockIsTested(_ code: ArticleCode) throws {
        let docc = ArticleCode.root.appendingPathComponent("Sources/Nabla/Nabla.docc")
        let article = try String(contentsOf: docc.appendingPathComponent(code.article + ".md"), encoding: .utf8)
        let sources = try code.files.map {
            try String(contentsOf: ArticleCode.root.appendingPathComponent($0), encoding: .utf8)
        }
        let blocks = ArticleCode.swiftBlocks(in: article)
        #expect(!blocks.isEmpty, "\(code.article) has no Swift block")
        for block in blocks {
            #expect(
                sources.contains { ArticleCode.contains($0, block) },
                "\(code.article): this block is in none of \(code.files):\n\(block)")
        }
    }

    /// The extraction itself: fences, blank lines and indentation.
    @Test func findsBlocksAtAnyIndentation() {
        let markdown = "Text\n```swift\nlet a = 1\n\nlet b = a\n```\n```python\nx = 1\n```\n```swift\nf()\n```"
        let blocks = ArticleCode.swiftBlocks(in: markdown)
        #expect(blocks == ["let a = 1\n\nlet b = a", "f()"])
        #expect(ArticleCode.contains("func t() {\n    let a = 1\n\n    let b = a\n}", blocks[0]))
        #expect(!ArticleCode.contains("    let a = 1\n    let b = a", blocks[0]))
        #expect(!ArticleCode.contains("  let a = 1\n\n  let b = a", blocks[0]))
        #expect(ArticleCode.contains("import Nabla\n\nfunc t() {\n    f()\n}", "import Nabla\n\nf()"))
    }
}
