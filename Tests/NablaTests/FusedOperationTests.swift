import Foundation
import Testing

@testable import Nabla

// The fused ops of the autodiff path (recurrent cells, affine normalization, bias plus
// activation): against central differences through the op table (OperationSpecs+Fused.swift),
// and here against the unfused composition they replace, with NaN inputs and empty batches.

/// A fused op and the composition of unfused ops it stands for, on the same inputs.
struct FusedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let inputShapes: [[Int]]
    let fused: @Sendable ([Variable<Double>]) -> Variable<Double>
    let unfused: @Sendable ([Variable<Double>]) -> Variable<Double>
    let fusedFloat: @Sendable ([Variable<Float>]) -> Variable<Float>
    let unfusedFloat: @Sendable ([Variable<Float>]) -> Variable<Float>
    /// The inputs of an empty batch.
    let emptyShapes: [[Int]]

    var testDescription: String { name }
}

/// The unfused LSTM step, as `LSTM`'s graph step was written: `[2, B, h]`, `h'` then `c'`.
func unfusedLSTMCell<S: TensorScalar>(_ x: [Variable<S>]) -> Variable<S> {
    typealias Ops = TensorOperations<S>
    let h = x[2].shape[1]
    let gates = Ops.split(x[0] + x[1], sizes: [h, h, h, h], alongAxis: 1)
    let (i, f, g, o) = (Ops.sigmoid(gates[0]), Ops.sigmoid(gates[1]), Ops.tanh(gates[2]), Ops.sigmoid(gates[3]))
    let cell = f * x[2] + i * g
    return Ops.stack([o * Ops.tanh(cell), cell], alongAxis: 0)
}

/// The unfused GRU step, as `GRU`'s graph step was written.
func unfusedGRUCell<S: TensorScalar>(_ x: [Variable<S>]) -> Variable<S> {
    typealias Ops = TensorOperations<S>
    let h = x[2].shape[1]
    let input = Ops.split(x[0], sizes: [h, h, h], alongAxis: 1)
    let hidden = Ops.split(x[1], sizes: [h, h, h], alongAxis: 1)
    let r = Ops.sigmoid(input[0] + hidden[0])
    let z = Ops.sigmoid(input[1] + hidden[1])
    let n = Ops.tanh(input[2] + r * hidden[2])
    return (1 - z) * n + z * x[2]
}

/// The unfused LSTM step with its product: `[fromInput, [h, c], W_hh]`.
func unfusedLSTMStep<S: TensorScalar>(_ x: [Variable<S>]) -> Variable<S> {
    typealias Ops = TensorOperations<S>
    let state = Ops.unstack(x[1], alongAxis: 0)
    return unfusedLSTMCell([x[0], Ops.matmul(state[0], x[2], transposeRHS: true), state[1]])
}

/// Two LSTM steps reading rows `0..<B` and then `B − 1..<2B − 1` (overlapping by one; none
/// when `B` is 0) of one `[2B + 1, 4h]` projection, on the fused op, or with `unfused` on slices of it: the walk then
/// gathers overlapping region gradients and leaves the last row's at zero.
func twoLSTMSteps<S: TensorScalar>(_ x: [Variable<S>], unfused: Bool) -> Variable<S> {
    typealias Ops = TensorOperations<S>
    let batch = x[1].shape[1]
    var state = x[1]
    for rows in [0..<batch, max(0, batch - 1)..<max(0, 2 * batch - 1)] {
        state = unfused
            ? unfusedLSTMStep([Ops.slice(x[0], alongAxis: 0, rows), state, x[2]])
            : Ops.lstmStep(fromInput: x[0], rows: rows, state: state, weightHH: x[2], weightHHTransposed: x[2].value.transposed())
    }
    return state
}

/// Rows `B..<2B` of an LSTM step's projection, `B` from its state `[2, B, h]`.
func middleRows<S: TensorScalar>(_ x: [Variable<S>]) -> Range<Int> { x[1].shape[1]..<2 * x[1].shape[1] }

/// The last `B` rows of a GRU step's projection, `B` from its state `[B, h]`.
func lastRows<S: TensorScalar>(_ x: [Variable<S>]) -> Range<Int> { x[0].shape[0] - x[1].shape[0]..<x[0].shape[0] }

/// The unfused GRU step with its product: `[fromInput, h, W_hh, b_hh]`.
func unfusedGRUStep<S: TensorScalar>(_ x: [Variable<S>]) -> Variable<S> {
    unfusedGRUCell([x[0], TensorOperations.matmul(x[1], x[2], transposeRHS: true) + x[3], x[1]])
}

/// A padded convolution, then its bias added as a separate broadcast op.
func unfusedConvolution<S: TensorScalar>(_ x: [Variable<S>]) -> Variable<S> {
    typealias Ops = TensorOperations<S>
    return Ops.conv2d(x[0], filter: x[1], configuration: .init(padding: 1))
        + Ops.reshape(x[2], to: [1, x[2].shape[0], 1, 1])
}

extension FusedCase {
    static let all: [FusedCase] = [
        FusedCase(
            name: "lstmCell", inputShapes: [[3, 8], [3, 8], [3, 2]],
            fused: { DOps.lstmCell(fromInput: $0[0], fromHidden: $0[1], cell: $0[2]) }, unfused: unfusedLSTMCell,
            fusedFloat: { FOps.lstmCell(fromInput: $0[0], fromHidden: $0[1], cell: $0[2]) }, unfusedFloat: unfusedLSTMCell,
            emptyShapes: [[0, 8], [0, 8], [0, 2]]),
        FusedCase(
            name: "gruCell", inputShapes: [[3, 6], [3, 6], [3, 2]],
            fused: { DOps.gruCell(fromInput: $0[0], fromHidden: $0[1], hidden: $0[2]) }, unfused: unfusedGRUCell,
            fusedFloat: { FOps.gruCell(fromInput: $0[0], fromHidden: $0[1], hidden: $0[2]) }, unfusedFloat: unfusedGRUCell,
            emptyShapes: [[0, 6], [0, 6], [0, 2]]),
        FusedCase(
            name: "lstmStep", inputShapes: [[3, 8], [2, 3, 2], [8, 2]],
            fused: { DOps.lstmStep(fromInput: $0[0], state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
            unfused: unfusedLSTMStep,
            fusedFloat: { FOps.lstmStep(fromInput: $0[0], state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
            unfusedFloat: unfusedLSTMStep,
            emptyShapes: [[0, 8], [2, 0, 2], [8, 2]]),
        FusedCase(
            name: "lstmStep(rows)", inputShapes: [[9, 8], [2, 3, 2], [8, 2]],
            fused: { DOps.lstmStep(fromInput: $0[0], rows: middleRows($0), state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
            unfused: { unfusedLSTMStep([DOps.slice($0[0], alongAxis: 0, middleRows($0)), $0[1], $0[2]]) },
            fusedFloat: { FOps.lstmStep(fromInput: $0[0], rows: middleRows($0), state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
            unfusedFloat: { unfusedLSTMStep([FOps.slice($0[0], alongAxis: 0, middleRows($0)), $0[1], $0[2]]) },
            emptyShapes: [[9, 8], [2, 0, 2], [8, 2]]),
        FusedCase(
            name: "two lstmSteps(overlapping rows)", inputShapes: [[7, 8], [2, 3, 2], [8, 2]],
            fused: { twoLSTMSteps($0, unfused: false) }, unfused: { twoLSTMSteps($0, unfused: true) },
            fusedFloat: { twoLSTMSteps($0, unfused: false) }, unfusedFloat: { twoLSTMSteps($0, unfused: true) },
            emptyShapes: [[1, 8], [2, 0, 2], [8, 2]]),
        FusedCase(
            name: "gruStep(rows)", inputShapes: [[7, 6], [3, 2], [6, 2], [6]],
            fused: {
                DOps.gruStep(fromInput: $0[0], rows: lastRows($0), hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed())
            },
            unfused: { unfusedGRUStep([DOps.slice($0[0], alongAxis: 0, lastRows($0))] + $0.dropFirst()) },
            fusedFloat: {
                FOps.gruStep(fromInput: $0[0], rows: lastRows($0), hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed())
            },
            unfusedFloat: { unfusedGRUStep([FOps.slice($0[0], alongAxis: 0, lastRows($0))] + $0.dropFirst()) },
            emptyShapes: [[7, 6], [0, 2], [6, 2], [6]]),
        FusedCase(
            name: "concatenate(rows:of:)", inputShapes: [[3, 2, 2], [3, 2, 2], [3, 2, 2]],
            fused: { DOps.concatenate(rows: 1..<3, of: $0) },
            unfused: { x in DOps.concatenate(x.map { DOps.slice($0, alongAxis: 0, 1..<3) }, alongAxis: 0) },
            fusedFloat: { FOps.concatenate(rows: 1..<3, of: $0) },
            unfusedFloat: { x in FOps.concatenate(x.map { FOps.slice($0, alongAxis: 0, 1..<3) }, alongAxis: 0) },
            emptyShapes: [[3, 0, 2], [3, 0, 2], [3, 0, 2]]),
        FusedCase(
            name: "gruStep", inputShapes: [[3, 6], [3, 2], [6, 2], [6]],
            fused: {
                DOps.gruStep(fromInput: $0[0], hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed())
            },
            unfused: unfusedGRUStep,
            fusedFloat: {
                FOps.gruStep(fromInput: $0[0], hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed())
            },
            unfusedFloat: unfusedGRUStep,
            emptyShapes: [[0, 6], [0, 2], [6, 2], [6]]),
        // One input channel takes the few-channel kernels, which add the bias in their own pass.
        FusedCase(
            name: "conv2d(bias, one channel)", inputShapes: [[2, 1, 6, 5], [4, 1, 3, 3], [4]],
            fused: { DOps.conv2d($0[0], filter: $0[1], bias: $0[2], configuration: .init(padding: 1)) },
            unfused: unfusedConvolution,
            fusedFloat: { FOps.conv2d($0[0], filter: $0[1], bias: $0[2], configuration: .init(padding: 1)) },
            unfusedFloat: unfusedConvolution,
            emptyShapes: [[0, 1, 6, 5], [4, 1, 3, 3], [4]]),
        FusedCase(
            name: "conv2d(bias, three channels)", inputShapes: [[2, 3, 5, 5], [4, 3, 3, 3], [4]],
            fused: { DOps.conv2d($0[0], filter: $0[1], bias: $0[2], configuration: .init(padding: 1)) },
            unfused: unfusedConvolution,
            fusedFloat: { FOps.conv2d($0[0], filter: $0[1], bias: $0[2], configuration: .init(padding: 1)) },
            unfusedFloat: unfusedConvolution,
            emptyShapes: [[0, 3, 5, 5], [4, 3, 3, 3], [4]]),
        FusedCase(
            name: "batchNorm(training, NCHW)", inputShapes: [[3, 2, 3, 2], [2], [2]],
            fused: { DOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0, 2, 3], epsilon: 1e-3) },
            unfused: { unfusedNormalization($0, axes: [0, 2, 3], parameterShape: { [1, $0[0], 1, 1] }) },
            fusedFloat: { FOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0, 2, 3], epsilon: 1e-3) },
            unfusedFloat: { unfusedNormalization($0, axes: [0, 2, 3], parameterShape: { [1, $0[0], 1, 1] }) },
            emptyShapes: [[2, 0, 3, 2], [0], [0]]),
        FusedCase(
            name: "batchNorm(training, [N, F])", inputShapes: [[5, 3], [3], [3]],
            fused: { DOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0], epsilon: 1e-3) },
            unfused: { unfusedNormalization($0, axes: [0], parameterShape: { [1, $0[0]] }) },
            fusedFloat: { FOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0], epsilon: 1e-3) },
            unfusedFloat: { unfusedNormalization($0, axes: [0], parameterShape: { [1, $0[0]] }) },
            emptyShapes: [[2, 0], [0], [0]]),
        FusedCase(
            name: "layerNorm(axes: [1, 2])", inputShapes: [[3, 2, 5], [2, 5], [2, 5]],
            fused: { DOps.layerNorm($0[0], scale: $0[1], offset: $0[2], axes: [1, 2], epsilon: 1e-3) },
            unfused: { unfusedNormalization($0, axes: [1, 2], parameterShape: { [1] + $0 }) },
            fusedFloat: { FOps.layerNorm($0[0], scale: $0[1], offset: $0[2], axes: [1, 2], epsilon: 1e-3) },
            unfusedFloat: { unfusedNormalization($0, axes: [1, 2], parameterShape: { [1] + $0 }) },
            emptyShapes: [[0, 2, 5], [2, 5], [2, 5]]),
        FusedCase(
            name: "linear", inputShapes: [[3, 4], [2, 4], [2]],
            fused: { DOps.linear($0[0], weight: $0[1], bias: $0[2]) },
            unfused: { DOps.matmul($0[0], $0[1], transposeRHS: true) + $0[2] },
            fusedFloat: { FOps.linear($0[0], weight: $0[1], bias: $0[2]) },
            unfusedFloat: { FOps.matmul($0[0], $0[1], transposeRHS: true) + $0[2] },
            emptyShapes: [[0, 4], [2, 4], [2]]),
        // Instance normalization: each image's channel a group, γ and β per channel.
        FusedCase(
            name: "affineNormalize(groups cycling through γ)", inputShapes: [[2, 3, 4], [3], [3]],
            fused: { affineInstanceNorm($0) }, unfused: { unfusedNormalization($0, axes: [2], parameterShape: { [1, $0[0], 1] }) },
            fusedFloat: { affineInstanceNorm($0) },
            unfusedFloat: { unfusedNormalization($0, axes: [2], parameterShape: { [1, $0[0], 1] }) },
            emptyShapes: [[0, 3, 4], [3], [3]]),
    ]
}

/// Instance normalization of `[N, C, P]` as one fused op, as `InstanceNorm2D` runs it.
func affineInstanceNorm<S: TensorScalar>(_ x: [Variable<S>]) -> Variable<S> {
    let shape = AffineNormalizationShape(
        outer: 1, groups: x[0].shape[0] * x[0].shape[1], inner: x[0].shape[2], layout: .perGroup,
        parameterCount: x[1].shape[0])
    return TensorOperations.affineNormalize(x[0], scale: x[1], offset: x[2], shape: shape, epsilon: 1e-3).output
}

/// `standardize(x) ⊙ γ + β` in three ops, as the normalizations were written before fusing.
/// `parameterShape` maps γ's shape to the one that broadcasts against `x`.
func unfusedNormalization<S: TensorScalar>(
    _ x: [Variable<S>], axes: [Int], parameterShape: ([Int]) -> [Int]
) -> Variable<S> {
    typealias Ops = TensorOperations<S>
    let shape = parameterShape(x[1].shape)
    return Ops.standardize(x[0], alongAxes: axes, epsilon: 1e-3) * Ops.reshape(x[1], to: shape)
        + Ops.reshape(x[2], to: shape)
}

@Suite struct FusedOperationTests {
    /// Inputs in (−2, 2) and a random upstream gradient, by seed.
    private func sample(_ shapes: [[Int]], seed: UInt64) -> [Tensor<Double>] {
        var generator = SeededGenerator(seed: seed)
        return shapes.map { Tensor<Double>.randomUniform(shape: $0, in: -2..<2, using: &generator) }
    }

    /// The fused op's value and first-order gradients equal the composition's, in Double to
    /// 1e-12 and in Float to rounding; on the fast backward (nothing records it) and on the
    /// recorded one (an outer tape watches, as for a second derivative).
    @Test(arguments: FusedCase.all)
    func matchesTheUnfusedComposition(_ fusedCase: FusedCase) {
        let inputs = sample(fusedCase.inputShapes, seed: 3)
        let variables = inputs.map { DOps.variable($0) }
        let expected = withoutRecording { fusedCase.unfused(variables) }
        var generator = SeededGenerator(seed: 4)
        let upstream = Tensor<Double>.randomUniform(shape: expected.shape, in: -1..<1, using: &generator)
        let unfusedGradients = GradientCheck.gradients(of: fusedCase.unfused, at: variables, upstream: upstream)
        expectClose(withoutRecording { fusedCase.fused(variables) }.value, expected.value, rtol: 1e-12, atol: 1e-12)
        let fast = GradientCheck.gradients(of: fusedCase.fused, at: variables, upstream: upstream)
        let outer = GradientTape<Double>()
        outer.watch(variables)
        let recorded = outer.record { GradientCheck.gradients(of: fusedCase.fused, at: variables, upstream: upstream) }
        for (index, expectedGradient) in unfusedGradients.enumerated() {
            expectClose(fast[index].value, expectedGradient.value, rtol: 1e-12, atol: 1e-12)
            expectClose(recorded[index].value, expectedGradient.value, rtol: 1e-12, atol: 1e-12)
        }
        // Float: the kernels against the composition, to rounding.
        let floats = inputs.map { FOps.variable(converted($0, to: Float.self)) }
        let floatUpstream = converted(upstream, to: Float.self)
        expectClose(
            withoutRecording { fusedCase.fusedFloat(floats) }.value,
            withoutRecording { fusedCase.unfusedFloat(floats) }.value, rtol: 1e-5, atol: 1e-6)
        let floatFused = GradientCheck.gradients(of: fusedCase.fusedFloat, at: floats, upstream: floatUpstream)
        let floatUnfused = GradientCheck.gradients(of: fusedCase.unfusedFloat, at: floats, upstream: floatUpstream)
        for (a, b) in zip(floatFused, floatUnfused) { expectClose(a.value, b.value, rtol: 1e-5, atol: 1e-6) }
    }

    /// A NaN in any input makes the output and every gradient that depends on it NaN.
    @Test(arguments: FusedCase.all)
    func nanPropagates(_ fusedCase: FusedCase) {
        for poisoned in fusedCase.inputShapes.indices {
            var inputs = sample(fusedCase.inputShapes, seed: 5)
            inputs[poisoned] = inputs[poisoned].map { _ in .nan }
            let variables = inputs.map { DOps.variable($0) }
            let output = withoutRecording { fusedCase.fused(variables) }
            let reference = withoutRecording { fusedCase.unfused(variables) }
            let upstream = Tensor<Double>(repeating: 0.5, shape: output.shape)
            let gradients = GradientCheck.gradients(of: fusedCase.fused, at: variables, upstream: upstream)
            let referenceGradients = GradientCheck.gradients(of: fusedCase.unfused, at: variables, upstream: upstream)
            // NaN exactly where the composition has NaN.
            #expect(output.value.scalars.map(\.isNaN) == reference.value.scalars.map(\.isNaN), "\(fusedCase.name) input \(poisoned)")
            #expect(output.value.scalars.contains { $0.isNaN }, "\(fusedCase.name) input \(poisoned)")
            for (index, (a, b)) in zip(gradients, referenceGradients).enumerated() {
                #expect(
                    a.value.scalars.map(\.isNaN) == b.value.scalars.map(\.isNaN),
                    "\(fusedCase.name) input \(poisoned), gradient \(index)")
            }
        }
    }

    /// An empty batch gives an empty output and empty gradients of the inputs' shapes.
    @Test(arguments: FusedCase.all)
    func emptyBatch(_ fusedCase: FusedCase) {
        let shapes = fusedCase.emptyShapes
        let variables = shapes.map { DOps.variable(.zeros(shape: $0)) }
        let output = withoutRecording { fusedCase.fused(variables) }
        #expect(output.shape == withoutRecording { fusedCase.unfused(variables) }.shape)
        let gradients = GradientCheck.gradients(of: fusedCase.fused, at: variables, upstream: .zeros(shape: output.shape))
        #expect(gradients.map(\.shape) == shapes)
    }
}

/// The fused normalization splits large inputs across threads: per group, so the result is the
/// same at 1 and 2 threads up to the order of the per-thread sums of γ's gradient.
@Suite struct FusedNormalizationThreadTests {
    @Test(arguments: [false, true])
    func sameAtOneAndTwoThreads(layerNorm: Bool) {
        var generator = SeededGenerator(seed: 12)
        let shape = layerNorm ? [64, 4, 300] : [8, 16, 30, 30]
        let x = FOps.variable(.randomUniform(shape: shape, in: -3..<3, using: &generator))
        let parameterShape = layerNorm ? [4, 300] : [16]
        let scale = FOps.variable(.randomUniform(shape: parameterShape, in: 0.5..<1.5, using: &generator))
        let offset = FOps.variable(.randomUniform(shape: parameterShape, in: -1..<1, using: &generator))
        let upstream = Tensor<Float>.randomUniform(shape: shape, in: -1..<1, using: &generator)
        let f: GradientCheck.Function<Float> = { v in
            layerNorm
                ? FOps.layerNorm(v[0], scale: v[1], offset: v[2], axes: [1, 2])
                : FOps.batchNorm(v[0], scale: v[1], offset: v[2], axes: [0, 2, 3])
        }
        func run() -> [Tensor<Float>] {
            [withoutRecording { f([x, scale, offset]) }.value]
                + GradientCheck.gradients(of: f, at: [x, scale, offset], upstream: upstream).map(\.value)
        }
        let one = BLASThreadsForTests.with(1, run), two = BLASThreadsForTests.with(2, run)
        for (a, b) in zip(one, two) { expectClose(a, b, rtol: 1e-5, atol: 1e-5) }
        // And the fused op agrees with the unfused composition.
        let axes = layerNorm ? [1, 2] : [0, 2, 3]
        let composed: GradientCheck.Function<Float> = { v in
            FOps.standardize(v[0], alongAxes: axes, epsilon: 1e-5) * FOps.reshape(v[1], to: layerNorm ? [1, 4, 300] : [1, 16, 1, 1])
                + FOps.reshape(v[2], to: layerNorm ? [1, 4, 300] : [1, 16, 1, 1])
        }
        let reference = [withoutRecording { composed([x, scale, offset]) }.value]
            + GradientCheck.gradients(of: composed, at: [x, scale, offset], upstream: upstream).map(\.value)
        for (a, b) in zip(two, reference) { expectClose(a, b, rtol: 1e-3, atol: 1e-3) }
    }
}

/// ReLU's backward is one pass unless a tape records it; both give the same gradient: 0 where
/// the input is not positive or the upstream is 0, NaN where a NaN input meets a nonzero upstream.
@Suite struct ReLUBackwardTests {
    @Test func fastAndRecordedBackwardsAgree() {
        let x = DOps.variable(Tensor(shape: [2, 4], scalars: [-1, 0, 2, .nan, 3, -0.5, .nan, -.infinity]))
        let upstream = Tensor<Double>(shape: [2, 4], scalars: [1, 2, 3, 0, .nan, 6, 7, 8])
        let f: GradientCheck.Function<Double> = { DOps.relu($0[0]) }
        let fast = GradientCheck.gradients(of: f, at: [x], upstream: upstream)[0].value
        let outer = GradientTape<Double>()
        outer.watch(x)
        let recorded = outer.record { GradientCheck.gradients(of: f, at: [x], upstream: upstream) }[0].value
        let expected: [Double] = [0, 0, 3, 0, .nan, 0, .nan, 0]  // a zero upstream at NaN gives 0
        for (index, value) in expected.enumerated() {
            for actual in [fast.scalars[index], recorded.scalars[index]] {
                #expect(value.isNaN ? actual.isNaN : actual == value, "element \(index): \(actual)")
            }
        }
    }
}

/// The backward walk adds a variable's gradients in place when nothing records it (the matrix
/// products it gets as one GEMM of their factors): the same gradients as the recorded walk,
/// which adds them with ops.
@Suite struct InPlaceGradientSumTests {
    @Test func sharedOperandsMatchTheRecordedWalk() {
        var generator = SeededGenerator(seed: 8)
        let w = DOps.variable(.randomUniform(shape: [4, 3], in: -1..<1, using: &generator))
        let xs = (0..<3).map { _ in DOps.variable(.randomUniform(shape: [2, 3], in: -1..<1, using: &generator)) }
        let v = DOps.variable(.randomUniform(shape: [3, 4], in: -1..<1, using: &generator))
        // w enters through products with every operand layout, and elementwise; so does xs[0].
        let f: GradientCheck.Function<Double> = { x in
            let (w, v) = (x[0], x[1])
            var total = DOps.matmul(x[2], w, transposeRHS: true)
            total = total + DOps.matmul(x[3], v) + DOps.matmul(x[4], DOps.transpose(w, permutation: [1, 0]))
            total = total + DOps.sum(DOps.matmul(w, x[2], transposeRHS: true)) * DOps.sum(x[2])
            total = total + DOps.sum(DOps.matmul(x[3], DOps.matmul(w, v, transposeLHS: true, transposeRHS: true)))
            total = total + DOps.matmul(x[2], v) * 0.5
            return total + DOps.tanh(DOps.matmul(x[2], w, transposeRHS: true)) * DOps.matmul(x[3], w, transposeRHS: true)
        }
        let inputs = [w, v] + xs
        let upstream = Tensor<Double>.randomUniform(shape: [2, 4], in: -1..<1, using: &generator)
        let fast = GradientCheck.gradients(of: f, at: inputs, upstream: upstream)
        let outer = GradientTape<Double>()
        outer.watch(inputs)
        let recorded = outer.record { GradientCheck.gradients(of: f, at: inputs, upstream: upstream) }
        for (a, b) in zip(fast, recorded) { expectClose(a.value, b.value, rtol: 1e-12, atol: 1e-12) }
        let report = GradientCheck.check(f, at: inputs.map(\.value))
        #expect(report.passed, "\(report)")
    }
}
