import Foundation
import Testing

@testable import Nabla
@testable import NablaCommand

/// The fortune corpus, its vocabulary, bits per character and the `nabla text` models.
@Suite struct FortuneCorpusTests {
    /// A new folder holding `files` (name → contents), removed after `body`.
    static func withCorpus<R>(_ files: [String: [UInt8]], _ body: (String) throws -> R) throws -> R {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-corpus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, bytes) in files { _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(bytes)) }
        return try body(folder)
    }

    static func text(_ scalars: [Unicode.Scalar]) -> String { String(String.UnicodeScalarView(scalars)) }

    /// Two files read in name order (`a` before `b`), 14 fortunes: the 10th (index 9, `b2`)
    /// goes to validation. Index files, links, binary files, hidden files and folders are skipped;
    /// empty fortunes are dropped; `\r\n` stays two scalars; a file may lack its last newline.
    @Test func splitRule() throws {
        let a = "a0\n%\na1 line one\r\nline two\n%\n%\na2\n%\na3\n%\na4\n%\na5\n%\na6"
        let b = "b0\n%\nb1\n%\nb2\n%\nb3\n%\nb4\n%\nb5\n%\nb6\n%\n"
        try Self.withCorpus([
            "b": Array(b.utf8), "a": Array(a.utf8), "a.dat": [0, 1, 2], ".hidden": Array("h\n%\n".utf8),
            "binary": [0x41, 0x00, 0x0A],
        ]) { folder in
            try FileManager.default.createSymbolicLink(atPath: folder + "/a.u8", withDestinationPath: "a")
            try FileManager.default.createDirectory(atPath: folder + "/off", withIntermediateDirectories: false)
            _ = FileManager.default.createFile(atPath: folder + "/off/c", contents: Data("c0\n%\n".utf8))
            let corpus = try FortuneCorpus(directory: folder)
            #expect(corpus.files == ["a", "b"])
            #expect((corpus.trainingFortunes, corpus.validationFortunes) == (13, 1))
            #expect(Self.text(corpus.validation) == "b2\n%\n")
            #expect(Self.text(corpus.training) == "a0\n%\na1 line one\r\nline two\n%\na2\n%\na3\n%\na4\n%\na5\n%\na6\n%\n"
                + "b0\n%\nb1\n%\nb3\n%\nb4\n%\nb5\n%\nb6\n%\n")
            #expect(corpus.training.contains("\r"))
        }
    }

    /// Index 0 is the unknown symbol; the others are the training scalars in increasing order.
    @Test func vocabulary() {
        let vocabulary = CharacterVocabulary("ba\né a".unicodeScalars)
        #expect(vocabulary.scalars == ["\n", " ", "a", "b", "é"])
        #expect(vocabulary.count == 6)
        #expect(vocabulary.encode("ab\nz é".unicodeScalars) == [3, 4, 1, 0, 2, 5])
        #expect(vocabulary.decode([3, 4, 0, 5]) == "ab\u{FFFD}é")
        #expect(vocabulary.decode(vocabulary.encode("a bé".unicodeScalars)) == "a bé")
    }

    @Test func missingFolderNamesThePackage() {
        #expect(throws: CorpusError.missingFolder(path: "/nonexistent-nabla-fortunes", package: "fortunes")) {
            try FortuneCorpus(directory: "/nonexistent-nabla-fortunes")
        }
        let message = "\(CorpusError.missingFolder(path: "/x", package: "fortunes"))"
        #expect(message == "/x: no such folder (install the fortunes package: apt-get install fortunes, or make; or pass --data)")
    }

    /// No text files, or text with fortunes for only one split: nothing to train or validate on.
    @Test(arguments: [[:], ["x.dat": [1, 2, 3]], ["one": Array("only one fortune\n%\n".utf8)]] as [[String: [UInt8]]])
    func emptyCorpus(_ files: [String: [UInt8]]) throws {
        try Self.withCorpus(files) { folder in
            do {
                _ = try FortuneCorpus(directory: folder)
                Issue.record("no error")
            } catch {
                #expect(error as? CorpusError == .empty(path: folder, package: "fortunes"))
                #expect("\(error)".contains("apt-get install fortunes"))
            }
        }
    }

    /// `nabla text --data` a missing folder: one line, no stack trace.
    @Test func missingFolderThroughTheCommandLine() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["text", "--data", "/nonexistent-nabla-fortunes"])
        }
        #expect(standardError(result).split(separator: "\n") == [
            "Error: /nonexistent-nabla-fortunes: no such folder (install the fortunes package: apt-get install fortunes, or make; or pass --data)"
        ])
    }

    /// `nabla text --load` a weights file of another kind or without sizes: a typed error, one
    /// line (not ArgumentParser's usage text, which a `ValidationError` from `run` prints).
    @Test(arguments: [
        (["nabla_text_model": "gru"], " holds a gru, not a lstm; pass --model"),
        (["nabla_text_model": "lstm", "embedding": "-3"], ": metadata embedding is missing or not a positive integer"),
    ])
    func badWeightsFileThroughTheCommandLine(_ metadata: [String: String], _ message: String) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-text-bad-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors(metadata: metadata).write(to: path)
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [path = path as String] in
            NablaCommand.main(["text", "--load", path, "--epochs", "0", "--sample-length", "0"])
        }
        #expect(standardError(result).split(separator: "\n") == ["Error: \(path)\(message)"])
    }
}

@Suite struct BitsPerCharacterTests {
    /// Worked by hand, over 4 symbols: uniform logits, target 3: p = 1/4, 2 bits; logits
    /// `[ln 5, 0, 0, 0]`: exp sums to 8, target 1: p = 1/8, 3 bits, twice in a second batch.
    /// Total 8 bits over 3 characters = 8/3 (a mean of the batch means would give 2.5).
    @Test func handWorkedValue() {
        var bits = BitsPerCharacter()
        #expect(bits.value.isNaN)
        bits.add(logits: Tensor<Double>(shape: [1, 4], scalars: [0, 0, 0, 0]), targets: [3])
        #expect(abs(bits.value - 2) < 1e-12)
        let row: [Double] = [Foundation.log(5.0), 0, 0, 0]
        bits.add(logits: Tensor<Double>(shape: [2, 1, 4], scalars: row + row), targets: [1, 1])
        #expect(bits.count == 3)
        #expect(abs(bits.value - 8.0 / 3) < 1e-12)
        #expect(abs(bits.nats - 8 * Foundation.log(2.0)) < 1e-12)
    }

    /// Large logits stay exact: the row maximum is taken out first.
    @Test func largeLogits() {
        var bits = BitsPerCharacter()
        bits.add(logits: Tensor<Float>(shape: [1, 2], scalars: [1e4, 1e4]), targets: [0])
        #expect(abs(bits.value - 1) < 1e-6)
    }
}

@Suite struct CharacterLanguageModelTests {
    static let text = Array(String(repeating: "the cat sat on the mat. a dog ran. ", count: 12).unicodeScalars)
    static let vocabulary = CharacterVocabulary(text)
    static let indices = vocabulary.encode(text)

    static func model(_ kind: TextModelKind, seed: UInt64 = 3) -> CharacterModel {
        let sizes = kind == .lstm
            ? TextModelSizes(vocabulary: vocabulary.count, embedding: 8, hidden: 16)
            : TextModelSizes(vocabulary: vocabulary.count, embedding: 16, hidden: 32, heads: 2, context: 16)
        return CharacterModel(kind, sizes: sizes, seed: seed)
    }

    /// The LSTM's streams: text 0…10 in 2 streams of 5, chunks of 3 then 2; every character
    /// after the first of a stream is a target exactly once, the state carrying along a stream.
    @Test func streamBatches() {
        let batches = TextBatches.streams(Array(0...10), batchSize: 2, length: 3)
        #expect(batches.map(\.inputs.shape) == [[2, 3], [2, 2]])
        #expect(batches.map { $0.inputs.scalars.map(Int.init) } == [[0, 1, 2, 5, 6, 7], [3, 4, 8, 9]])
        #expect(batches.map(\.targets) == [[1, 2, 3, 6, 7, 8], [4, 5, 9, 10]])
    }

    /// The Transformer's windows: 10 targets in windows of 4 (two full, one of 2 on its own).
    @Test func windowBatches() {
        let batches = TextBatches.windows(Array(0...10), batchSize: 2, length: 4, order: [1, 0])
        #expect(batches.map(\.inputs.shape) == [[2, 4], [1, 2]])
        #expect(batches.map(\.targets) == [[5, 6, 7, 8, 1, 2, 3, 4], [9, 10]])
    }

    /// 20 steps lower the loss on both paths, for both models, and the two paths take the same
    /// first steps.
    @Test(arguments: TextModelKind.allCases)
    func twentyStepsLowerTheLoss(_ kind: TextModelKind) {
        var losses: [[Float]] = []
        for autodiff in [false, true] {
            let model = Self.model(kind)
            model.useAutodiff = autodiff
            let trainer = CharacterTrainer(model, learningRate: 1e-2, maxGradientNorm: 1, seed: 0)
            let before = trainer.evaluate(Self.indices, batchSize: 4, length: 16).value
            var stepLosses: [Float] = []
            while stepLosses.count < 20 {
                let epoch = trainer.trainEpoch(Self.indices, batchSize: 4, length: 16, steps: 20 - stepLosses.count)
                stepLosses += epoch.stepLosses
            }
            let after = trainer.evaluate(Self.indices, batchSize: 4, length: 16).value
            #expect(after < before - 0.5, "\(kind) \(autodiff ? "autodiff" : "manual"): \(before) → \(after) bits")
            #expect(stepLosses.suffix(5).reduce(0, +) < stepLosses.prefix(5).reduce(0, +))
            losses.append(stepLosses)
        }
        for (manual, autodiff) in zip(losses[0], losses[1]).prefix(3) {
            #expect(abs(manual - autodiff) < 1e-4 * max(1, abs(manual)), "\(kind): manual \(manual), autodiff \(autodiff)")
        }
    }

    /// Changing a later character leaves every earlier position's logits as they were, on both
    /// paths: the causal mask hides the future, through the learned positions and both layers.
    @Test(arguments: [false, true])
    func transformerIgnoresTheFuture(_ autodiff: Bool) {
        let model = Self.model(.transformer)
        model.useAutodiff = autodiff
        let tokens = Array(Self.indices.prefix(12))
        var changed = tokens
        changed[7] = (changed[7] + 1) % Self.vocabulary.count
        let logits = [tokens, changed].map { model.forward(Tensor(shape: [1, 12], scalars: $0.map(Float.init))) }
        let (first, second) = (logits[0].reshaped(to: [12, Self.vocabulary.count]), logits[1].reshaped(to: [12, Self.vocabulary.count]))
        #expect(first.slice(alongAxis: 0, 0..<7).isClose(to: second.slice(alongAxis: 0, 0..<7), rtol: 0, atol: 1e-6))
        #expect(!first.slice(alongAxis: 0, 7..<12).isClose(to: second.slice(alongAxis: 0, 7..<12), rtol: 0, atol: 1e-3))
    }

    /// The LSTM carries its state from one forward to the next until reset.
    @Test func lstmCarriesItsState() {
        let model = Self.model(.lstm)
        let chunk = Tensor<Float>(shape: [1, 5], scalars: Self.indices.prefix(5).map(Float.init))
        let fresh = model.forward(chunk)
        let carried = model.forward(chunk)
        model.resetState()
        #expect(model.forward(chunk) == fresh)
        #expect(carried != fresh)
    }

    /// Saved weights load by PyTorch's names into a model that gives the same logits.
    @Test(arguments: TextModelKind.allCases)
    func saveAndLoad(_ kind: TextModelKind) throws {
        let model = Self.model(kind, seed: 5)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-text-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TextWeights.save(model, vocabulary: Self.vocabulary, to: path)
        let names = try SafeTensors(contentsOf: path).entries.keys.sorted()
        #expect(names.contains(kind == .lstm ? "lstm.weight_hh_l1" : "encoder.layers.1.self_attn.in_proj_weight"))
        #expect(names.contains("embedding.weight") && names.contains("head.bias"))
        let loaded = try TextWeights.load(from: path, kind: kind, vocabulary: Self.vocabulary)
        let tokens = Tensor<Float>(shape: [2, 6], scalars: Self.indices.prefix(12).map(Float.init))
        #expect(loaded.forward(tokens) == model.forward(tokens))
        #expect(throws: (any Error).self) {
            try TextWeights.load(from: path, kind: kind, vocabulary: CharacterVocabulary("xyz".unicodeScalars))
        }
    }

    /// Sampling is seeded and never draws the unknown symbol.
    @Test func sampleIsSeeded() {
        let model = Self.model(.transformer)
        var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9)
        let first = model.sample(prime: Array(Self.indices.prefix(3)), length: 20, temperature: 1, using: &g1)
        let second = model.sample(prime: Array(Self.indices.prefix(3)), length: 20, temperature: 1, using: &g2)
        #expect(first == second && first.count == 20)
        #expect(!first.contains(CharacterVocabulary.unknown))
    }
}
