import Foundation
import Testing

@testable import Nabla

/// A key padding mask `[3, 5]`: the last two keys of sequence 0, the first key of sequence 1
/// (under the causal mask its first query then sees no key), every key of sequence 2.
private let paddingMask = Tensor<Double>(
    shape: [3, 5], scalars: [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1])

/// Whether query `i` of sequence `b` skips key `j`.
private func masks(_ b: Int, _ i: Int, _ j: Int, causal: Bool, padding: Tensor<Double>?) -> Bool {
    (causal && j > i) || (padding.map { $0[b, j] != 0 } ?? false)
}

/// PyTorch's definition, one scalar at a time: project, then per sequence, head and query the
/// scores, their softmax over the keys it may see (none: weights 0), and the weighted values;
/// then the output projection. Returns the output and the attention weights.
private func naiveAttention(
    _ layer: MultiHeadAttention<Double>, _ x: Tensor<Double>, padding: Tensor<Double>?
) -> (output: Tensor<Double>, weights: Tensor<Double>) {
    let (batch, length, e) = (x.shape[0], x.shape[1], x.shape[2])
    let (h, d) = (layer.heads, e / layer.heads)
    let w = layer.inputProjectionWeight.value, bias = layer.inputProjectionBias.value
    let wo = layer.outputProjectionWeight.value, bo = layer.outputProjectionBias.value
    var output = Tensor<Double>.zeros(shape: [batch, length, e])
    var weights = Tensor<Double>.zeros(shape: [batch, h, length, length])
    for b in 0..<batch {
        // projection[part][s][c]: part 0, 1, 2 for q, k, v.
        var projection = [[[Double]]](
            repeating: .init(repeating: .init(repeating: 0, count: e), count: length), count: 3)
        for part in 0..<3 {
            for s in 0..<length {
                for c in 0..<e {
                    var sum = bias[part * e + c]
                    for i in 0..<e { sum += w[part * e + c, i] * x[b, s, i] }
                    projection[part][s][c] = sum
                }
            }
        }
        var context = [[Double]](repeating: .init(repeating: 0, count: e), count: length)
        for head in 0..<h {
            for i in 0..<length {
                let visible = (0..<length).filter {
                    !masks(b, i, $0, causal: layer.causal, padding: padding)
                }
                var scores = [Double](repeating: 0, count: length)
                for j in visible {
                    var dot = 0.0
                    for c in 0..<d { dot += projection[0][i][head * d + c] * projection[1][j][head * d + c] }
                    scores[j] = dot / Double(d).squareRoot()
                }
                let largest = visible.map { scores[$0] }.max() ?? 0
                let total = visible.map { Foundation.exp(scores[$0] - largest) }.reduce(0, +)
                for j in visible {
                    let p = Foundation.exp(scores[j] - largest) / total
                    weights[b, head, i, j] = p
                    for c in 0..<d { context[i][head * d + c] += p * projection[2][j][head * d + c] }
                }
            }
        }
        for s in 0..<length {
            for o in 0..<e {
                var sum = bo[o]
                for c in 0..<e { sum += wo[o, c] * context[s][c] }
                output[b, s, o] = sum
            }
        }
    }
    return (output, weights)
}

@Suite struct AttentionTests {
    func layer(_ e: Int = 6, heads: Int = 2, causal: Bool) -> MultiHeadAttention<Double> {
        var generator = SeededGenerator(seed: 3)
        return attentionLayer(e, heads: heads, causal: causal, &generator)
    }

    // MARK: Definition

    /// Both paths against the loop reference, with and without each mask.
    @Test(arguments: [false, true], [false, true])
    func matchesNaiveReference(causal: Bool, padded: Bool) {
        let layer = layer(causal: causal)
        let input: Tensor<Double> = randomTensor([3, 5, 6], seed: 4)
        let padding = padded ? paddingMask : nil
        let expected = naiveAttention(layer, input, padding: padding)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let output = layer.forward(input, keyPaddingMask: padding)
            expectClose(output, expected.output, rtol: 1e-12, atol: 1e-13)
            expectClose(layer.attentionWeights!, expected.weights, rtol: 1e-12, atol: 1e-13)
        }
    }

    @Test func describesItself() {
        var generator = SeededGenerator(seed: 0)
        let layer = MultiHeadAttention<Float>(embedDimension: 128, heads: 4, using: &generator)
        #expect(layer.description == "MultiHeadAttention(E 128, 4 heads, causal: false)")
        let single = MultiHeadAttention<Float>(embedDimension: 8, heads: 1, causal: true, using: &generator)
        #expect(single.description == "MultiHeadAttention(E 8, 1 head, causal: true)")
    }

    /// PyTorch's names, shapes and order, also inside a container (`0.in_proj_weight`, as
    /// `nn.Sequential(nn.MultiheadAttention(…))`'s state dict).
    @Test func parametersFollowPyTorch() {
        var generator = SeededGenerator(seed: 0)
        let layer = MultiHeadAttention<Double>(embedDimension: 8, heads: 2, using: &generator)
        #expect(layer.namedParameters.map(\.name) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        #expect(layer.parameters.map(\.value.shape) == [[24, 8], [24], [8, 8], [8]])
        #expect(layer.headDimension == 4)
        let network = Sequential<Double>(layer)
        #expect(network.namedParameters.map(\.name) == ["0.in_proj_weight", "0.in_proj_bias", "0.out_proj.weight", "0.out_proj.bias"])
    }

    /// Xavier uniform over the whole `[3E, E]` in_proj_weight (bound √(6 / 4E)), `±1/√E` for
    /// out_proj.weight, zero biases.
    @Test func initializesAsPyTorch() {
        var generator = SeededGenerator(seed: 0)
        let e = 64
        let layer = MultiHeadAttention<Double>(embedDimension: e, heads: 8, using: &generator)
        let inBound = (6 / Double(4 * e)).squareRoot(), outBound = 1 / Double(e).squareRoot()
        let inLargest = layer.inputProjectionWeight.value.scalars.map(abs).max()!
        let outLargest = layer.outputProjectionWeight.value.scalars.map(abs).max()!
        #expect(inLargest < inBound && inLargest > 0.99 * inBound)
        #expect(outLargest < outBound && outLargest > 0.99 * outBound)
        #expect(layer.inputProjectionBias.value == .zeros(shape: [3 * e]))
        #expect(layer.outputProjectionBias.value == .zeros(shape: [e]))
    }

    // MARK: Masks

    /// Manual vs autodiff vs central differences, and second order, with a key padding mask
    /// that leaves some queries no key at all.
    @Test(arguments: [false, true])
    func keyPaddingMaskParity(causal: Bool) {
        let layer = layer(causal: causal)
        layer.keyPaddingMask = paddingMask
        let report = LayerGradientCheck.check(layer, input: randomTensor([3, 5, 6], seed: 11))
        #expect(report.manualVersusAutodiff <= 1e-10, "\(report)")
        #expect(report.manualVersusFiniteDifferences <= 1e-7, "\(report)")
        #expect(report.autodiffVersusFiniteDifferences <= 1e-7, "\(report)")
        #expect((report.secondOrder ?? .infinity) <= 1e-7, "\(report)")
    }

    /// With the causal mask, changing the input at one position leaves every output before it
    /// unchanged, bit for bit, on both paths.
    @Test(arguments: [false, true])
    func causalOutputsIgnoreTheFuture(autodiff: Bool) {
        let layer = layer(causal: true)
        layer.useAutodiff = autodiff
        let input: Tensor<Double> = randomTensor([2, 6, 6], seed: 5)
        let output = layer.forward(input)
        for position in 1..<6 {
            var changed = input
            for b in 0..<2 { for c in 0..<6 { changed[b, position, c] += Double(c + 1) } }
            let other = layer.forward(changed)
            #expect(
                other.slice(alongAxis: 1, 0..<position) == output.slice(alongAxis: 1, 0..<position),
                "position \(position)")
            #expect(other.slice(alongAxis: 1, position..<6) != output.slice(alongAxis: 1, position..<6))
        }
    }

    /// Masked weights are exactly 0 and each other row sums to 1; every gradient is finite,
    /// though the masked scores are −∞, and a sequence that is all padding gets exactly zero
    /// input gradient. On both paths, with both masks.
    @Test(arguments: [false, true])
    func maskedWeightsAreZeroAndGradientsFinite(autodiff: Bool) {
        let layer = layer(causal: true)
        layer.useAutodiff = autodiff
        let input: Tensor<Double> = randomTensor([3, 5, 6], seed: 6)
        _ = layer.forward(input, keyPaddingMask: paddingMask)
        let weights = layer.attentionWeights!
        #expect(weights.shape == [3, 2, 5, 5])
        for b in 0..<3 {
            for head in 0..<2 {
                for i in 0..<5 {
                    let visible = (0..<5).filter { !masks(b, i, $0, causal: true, padding: paddingMask) }
                    for j in 0..<5 where !visible.contains(j) {
                        #expect(weights[b, head, i, j] == 0, "[\(b), \(head), \(i), \(j)]")
                    }
                    let total = (0..<5).map { weights[b, head, i, $0] }.reduce(0, +)
                    #expect(abs(total - (visible.isEmpty ? 0 : 1)) < 1e-12)
                }
            }
        }
        layer.zeroGradients()
        let gradient = layer.backward(randomTensor([3, 5, 6], seed: 7))!
        for tensor in [gradient] + layer.parameters.map(\.gradient!) {
            #expect(tensor.scalars.allSatisfy { $0.isFinite })
        }
        // Sequence 2 is all padding; position 0 of sequence 1 is a padded key whose query sees
        // no key: their inputs reach no output. Every other input does.
        #expect(gradient.slice(alongAxis: 0, 2..<3) == .zeros(shape: [1, 5, 6]))
        #expect(gradient.slice(lowerBounds: [1, 0, 0], upperBounds: [2, 1, 6]) == .zeros(shape: [1, 1, 6]))
        #expect(gradient.slice(alongAxis: 0, 0..<1).scalars.allSatisfy { $0 != 0 })
        #expect(gradient.slice(lowerBounds: [1, 1, 0], upperBounds: [2, 5, 6]).scalars.allSatisfy { $0 != 0 })
    }

    /// Second derivatives through the masks have no NaN either: a gradient penalty's gradient
    /// with respect to every parameter.
    @Test func secondOrderThroughMasksIsFinite() {
        let layer = layer(causal: true)
        layer.keyPaddingMask = paddingMask
        let x = TensorOperations<Double>.variable(randomTensor([3, 5, 6], seed: 8))
        let upstream: Tensor<Double> = randomTensor([3, 5, 6], seed: 9)
        let outer = GradientTape<Double>()
        outer.watch(x)
        let penalty = outer.record {
            let inner = GradientTape<Double>()
            inner.watch(x)
            let y = inner.record { layer(x) }
            let g = inner.gradient(of: y, withRespectTo: [x], seed: upstream)[0]
            return TensorOperations.sum(g * g)
        }
        let gradients = outer.gradient(
            of: penalty, withRespectTo: [x] + layer.parameters.map(\.variable), unconnected: .zero)
        for gradient in gradients { #expect(gradient.value.scalars.allSatisfy { $0.isFinite }) }
    }

    // MARK: Edges

    /// An empty batch runs on both paths.
    @Test(arguments: [false, true])
    func emptyBatch(autodiff: Bool) {
        let layer = layer(causal: true)
        layer.useAutodiff = autodiff
        let output = layer.forward(.zeros(shape: [0, 4, 6]), keyPaddingMask: .zeros(shape: [0, 4]))
        #expect(output.shape == [0, 4, 6])
        let gradient = layer.backward(.zeros(shape: [0, 4, 6]))
        #expect(gradient?.shape == [0, 4, 6])
        #expect(layer.parameters.allSatisfy { $0.gradient == .zeros(shape: $0.value.shape) })
    }

    /// Without the input gradient, both paths skip its GEMM, `[B·S, 3E]·[3E, E]`.
    @Test(arguments: [false, true])
    func skipsTheInputGradient(autodiff: Bool) {
        let layer = layer(causal: false)
        layer.useAutodiff = autodiff
        let input: Tensor<Double> = randomTensor([2, 5, 6], seed: 1)
        func backwardMultiplyAdds(_ inputGradient: Bool) -> Int {
            layer.computesInputGradient = inputGradient
            _ = layer.forward(input)
            let (result, count) = MultiplyAddCounter.counting { layer.backward(.ones(shape: [2, 5, 6])) }
            #expect((result == nil) == !inputGradient)
            return count
        }
        #expect(backwardMultiplyAdds(true) - backwardMultiplyAdds(false) == 2 * 5 * 18 * 6)
    }

    // MARK: Misuse

    @Test func headsMustDivideTheEmbedDimension() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = MultiHeadAttention<Float>(embedDimension: 6, heads: 4, using: &generator)
        }
        #expect(standardError(result).contains("MultiHeadAttention: 4 heads do not divide the embed dimension 6"))
    }

    @Test func sizesMustBePositive() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = MultiHeadAttention<Float>(embedDimension: 0, heads: 1, using: &generator)
        }
        #expect(standardError(result).contains("MultiHeadAttention: embed dimension 0 and heads 1 must be positive"))
        let noHeads = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = MultiHeadAttention<Float>(embedDimension: 4, heads: 0, using: &generator)
        }
        #expect(standardError(noHeads).contains("MultiHeadAttention: embed dimension 4 and heads 0 must be positive"))
    }

    @Test func inputOfWrongRankNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let layer = MultiHeadAttention<Float>(embedDimension: 4, heads: 2, using: &generator)
            _ = layer.forward(.zeros(shape: [3, 4]))
        }
        #expect(standardError(result).contains(
            "MultiHeadAttention(E 4, 2 heads, causal: false): input [3, 4]: expected [batch, sequence, 4]"))
    }

    /// The graph-mode forward checks too.
    @Test func inputOfWrongEmbedDimensionNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let layer = MultiHeadAttention<Float>(embedDimension: 4, heads: 2, causal: true, using: &generator)
            layer.useAutodiff = true
            _ = layer.forward(.zeros(shape: [2, 3, 5]))
        }
        #expect(standardError(result).contains(
            "MultiHeadAttention(E 4, 2 heads, causal: true): input [2, 3, 5]: expected [batch, sequence, 4]"))
    }

    @Test func emptySequenceNamesTheLayer() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let layer = MultiHeadAttention<Float>(embedDimension: 4, heads: 2, using: &generator)
            _ = layer.forward(.zeros(shape: [2, 0, 4]))
        }
        #expect(standardError(result).contains(
            "MultiHeadAttention(E 4, 2 heads, causal: false): input [2, 0, 4]: the sequence is empty"))
    }

    @Test func maskOfWrongShapeNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let layer = MultiHeadAttention<Float>(embedDimension: 4, heads: 2, using: &generator)
            _ = layer.forward(.zeros(shape: [2, 3, 4]), keyPaddingMask: .zeros(shape: [2, 4]))
        }
        #expect(standardError(result).contains(
            "MultiHeadAttention(E 4, 2 heads, causal: false): key padding mask [2, 4] for input [2, 3, 4]: expected [2, 3]"))
    }

    /// The graph-mode forward checks the mask too.
    @Test func maskOfWrongShapeStopsTheGraphModeForward() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let layer = MultiHeadAttention<Float>(embedDimension: 4, heads: 1, causal: true, using: &generator)
            layer.keyPaddingMask = .zeros(shape: [3, 2])
            _ = layer(TensorOperations.variable(.zeros(shape: [2, 3, 4])))
        }
        #expect(standardError(result).contains(
            "MultiHeadAttention(E 4, 1 head, causal: true): key padding mask [3, 2] for input [2, 3, 4]: expected [2, 3]"))
    }

    @Test func backwardBeforeForwardNamesTheLayer() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let layer = MultiHeadAttention<Float>(embedDimension: 4, heads: 2, using: &generator)
            layer.backward(.zeros(shape: [2, 3, 4]))
        }
        #expect(standardError(result).contains("MultiHeadAttention(E 4, 2 heads, causal: false): backward called before forward"))
    }
}
