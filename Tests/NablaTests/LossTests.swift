import Foundation
import Testing

@testable import Nabla

/// One row of the loss table: a loss in `Double` and `Float` at a fixed prediction and target,
/// with a naive reference written here from the published definition.
struct LossCase: Sendable, CustomTestStringConvertible {
    let name: String
    let prediction: Tensor<Double>
    let manual: @Sendable (Tensor<Double>) -> (value: Double, gradient: Tensor<Double>)
    let graph: @Sendable (Variable<Double>) -> Variable<Double>
    let floatManual: @Sendable (Tensor<Float>) -> (value: Float, gradient: Tensor<Float>)
    let floatGraph: @Sendable (Variable<Float>) -> Variable<Float>
    /// The loss at a prediction, from the definition, with plain loops.
    let reference: @Sendable (Tensor<Double>) -> Double

    var testDescription: String { name }

    init<L: Loss, F: Loss>(
        _ name: String, prediction: Tensor<Double>, _ loss: L, _ floatLoss: F, target: L.Target,
        floatTarget: F.Target, reference: @escaping @Sendable (Tensor<Double>) -> Double
    ) where L.Scalar == Double, F.Scalar == Float, L.Target: Sendable, F.Target: Sendable {
        self.name = name
        self.prediction = prediction
        manual = { loss.valueAndGradient($0, target: target) }
        graph = { loss($0, target: target) }
        floatManual = { floatLoss.valueAndGradient($0, target: floatTarget) }
        floatGraph = { floatLoss($0, target: floatTarget) }
        self.reference = reference
    }
}

// MARK: - Naive references from the published definitions

/// `(1/n) Σ (p − t)²`.
func naiveMeanSquaredError(_ p: Tensor<Double>, _ t: Tensor<Double>) -> Double {
    zip(p.scalars, t.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(p.scalarCount)
}

/// PyTorch's label-smoothed cross-entropy: per row `(1 − ε)·(−log pₙ[yₙ]) + (ε/C)·Σ_c −log pₙ[c]`,
/// averaged over the rows, with `log p = x − log Σ exp(x)` (plain, for moderate logits).
func naiveCrossEntropy(_ logits: Tensor<Double>, classes target: [Int], smoothing ε: Double) -> Double {
    let (rows, columns) = (logits.shape[0], logits.shape[1])
    var total = 0.0
    for n in 0..<rows {
        let row = (0..<columns).map { logits[n, $0] }
        let logSumExp = Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +))
        let negativeLog = row.map { logSumExp - $0 }
        total += (1 - ε) * negativeLog[target[n]] + ε / Double(columns) * negativeLog.reduce(0, +)
    }
    return total / Double(rows)
}

/// `(1/n) Σ −[y log σ(x) + (1 − y) log(1 − σ(x))]`, with the plain `σ(x) = 1 / (1 + e⁻ˣ)`.
func naiveBinaryCrossEntropy(_ x: Tensor<Double>, _ y: Tensor<Double>) -> Double {
    zip(x.scalars, y.scalars).map { x, y in
        let s = 1 / (1 + Foundation.exp(-x))
        return -(y * Foundation.log(s) + (1 - y) * Foundation.log(1 - s))
    }.reduce(0, +) / Double(x.scalarCount)
}

/// `(1/n) Σ ℓ(p − t)` with `ℓ(d) = d²/2` for `|d| < δ`, `δ(|d| − δ/2)` otherwise.
func naiveHuber(_ p: Tensor<Double>, _ t: Tensor<Double>, delta δ: Double) -> Double {
    zip(p.scalars, t.scalars).map { p, t in
        let d = Swift.abs(p - t)
        return d < δ ? d * d / 2 : δ * (d - δ / 2)
    }.reduce(0, +) / Double(p.scalarCount)
}

extension LossCase {
    static let all: [LossCase] = {
        let target34: Tensor<Double> = randomTensor([3, 4], seed: 2)
        let logits: Tensor<Double> = randomTensor([4, 5], seed: 3) * 2.0
        let classes = [0, 4, 2, 2]
        let hardTargets = Tensor<Double>(shape: [3, 4], scalars: [1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1])
        let softTargets: Tensor<Double> = randomTensor([3, 4], seed: 5, in: 0..<1)
        let bceLogits: Tensor<Double> = randomTensor([3, 4], seed: 4) * 3.0
        // Differences up to ±3, so every δ below has elements on both sides.
        let huberPrediction: Tensor<Double> = randomTensor([3, 4], seed: 6) * 2.0
        var rows: [LossCase] = [
            .init("MSE [3, 4]", prediction: randomTensor([3, 4], seed: 1), MeanSquaredErrorLoss(),
                  MeanSquaredErrorLoss(), target: target34, floatTarget: converted(target34)) {
                naiveMeanSquaredError($0, target34)
            },
            .init("MSE [5]", prediction: randomTensor([5], seed: 7), MeanSquaredErrorLoss(),
                  MeanSquaredErrorLoss(), target: Tensor([1, 2, 3, 4, 5]), floatTarget: Tensor([1, 2, 3, 4, 5])) {
                naiveMeanSquaredError($0, Tensor([1, 2, 3, 4, 5]))
            },
            .init("BCE with logits, hard targets", prediction: bceLogits, BinaryCrossEntropyWithLogitsLoss(),
                  BinaryCrossEntropyWithLogitsLoss(), target: hardTargets, floatTarget: converted(hardTargets)) {
                naiveBinaryCrossEntropy($0, hardTargets)
            },
            .init("BCE with logits, soft targets", prediction: bceLogits, BinaryCrossEntropyWithLogitsLoss(),
                  BinaryCrossEntropyWithLogitsLoss(), target: softTargets, floatTarget: converted(softTargets)) {
                naiveBinaryCrossEntropy($0, softTargets)
            },
        ]
        for ε in [0.0, 0.1, 1.0] {
            rows.append(.init(
                "CrossEntropy [4, 5], label smoothing \(ε)", prediction: logits,
                CrossEntropyLoss(labelSmoothing: ε), CrossEntropyLoss(labelSmoothing: Float(ε)),
                target: classes, floatTarget: classes
            ) { naiveCrossEntropy($0, classes: classes, smoothing: ε) })
        }
        for δ in [0.5, 1.0, 2.5] {
            rows.append(.init(
                "Huber δ \(δ)", prediction: huberPrediction, HuberLoss(delta: δ), HuberLoss(delta: Float(δ)),
                target: target34, floatTarget: converted(target34)
            ) { naiveHuber($0, target34, delta: δ) })
        }
        return rows
    }()
}

/// `max|a − b| / max|b|`.
func normwiseRelativeError(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    let difference = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
    return difference / Swift.max(b.scalars.map(Swift.abs).max() ?? 0, .leastNormalMagnitude)
}

@Suite struct LossTests {
    /// The manual and graph paths agree on the value and the gradient.
    @Test(arguments: LossCase.all)
    func manualMatchesGraph(_ c: LossCase) {
        let (value, gradient) = c.manual(c.prediction)
        let x = DOps.variable(c.prediction, requiresGradient: true)
        let tape = GradientTape<Double>()
        let loss = tape.record { c.graph(x) }
        #expect(loss.shape == [])
        #expect(Swift.abs(value - loss.value.scalar) <= 1e-12 * Swift.abs(value), "\(value) vs \(loss.value.scalar)")
        let graphGradient = tape.gradient(of: loss, withRespectTo: [x])[0].value
        #expect(gradient.shape == c.prediction.shape)
        #expect(normwiseRelativeError(gradient, graphGradient) <= 1e-10)
    }

    /// Both values agree with the naive reference from the definition.
    @Test(arguments: LossCase.all)
    func valueMatchesDefinition(_ c: LossCase) {
        let expected = c.reference(c.prediction)
        #expect(Swift.abs(c.manual(c.prediction).value - expected) <= 1e-12 * Swift.abs(expected))
        #expect(Swift.abs(c.graph(DOps.constant(c.prediction)).value.scalar - expected) <= 1e-12 * Swift.abs(expected))
    }

    /// The manual gradient against central differences of the manual value, element by element.
    @Test(arguments: LossCase.all)
    func manualGradientMatchesCentralDifferences(_ c: LossCase) {
        let gradient = c.manual(c.prediction).gradient.scalars
        let h = 1e-6
        for i in 0..<c.prediction.scalarCount {
            var plus = c.prediction, minus = c.prediction
            plus.withUnsafeMutableBufferPointer { $0[i] += h }
            minus.withUnsafeMutableBufferPointer { $0[i] -= h }
            let numeric = (c.manual(plus).value - c.manual(minus).value) / (2 * h)
            #expect(Swift.abs(gradient[i] - numeric) <= 1e-8 + 1e-6 * Swift.abs(numeric), "element \(i)")
        }
    }

    /// The graph gradient against central differences, and its own derivative (second order).
    @Test(arguments: LossCase.all)
    func graphGradientAndSecondOrder(_ c: LossCase) {
        let first = GradientCheck.check({ c.graph($0[0]) }, at: [c.prediction])
        #expect(first.passed, "\(first)")
        let second = GradientCheck.checkSecondOrder({ c.graph($0[0]) }, at: [c.prediction])
        #expect(second.passed, "\(second)")
    }

    /// In `Float`, both paths agree with `Double`.
    @Test(arguments: LossCase.all)
    func floatAgreesWithDouble(_ c: LossCase) {
        let (value, gradient) = c.manual(c.prediction)
        let prediction: Tensor<Float> = converted(c.prediction)
        let (floatValue, floatGradient) = c.floatManual(prediction)
        #expect(Swift.abs(Double(floatValue) - value) <= 1e-5 * Swift.abs(value) + 1e-6)
        expectClose(converted(floatGradient), gradient, rtol: 1e-4, atol: 1e-6)
        let x = FOps.variable(prediction, requiresGradient: true)
        let tape = GradientTape<Float>()
        let loss = tape.record { c.floatGraph(x) }
        #expect(Swift.abs(Double(loss.value.scalar) - value) <= 1e-5 * Swift.abs(value) + 1e-6)
        expectClose(converted(tape.gradient(of: loss, withRespectTo: [x])[0].value), gradient, rtol: 1e-4, atol: 1e-6)
    }
}

// MARK: - By hand

@Suite struct LossByHandTests {
    /// Logits `log [1, 2, 5]` give probabilities `[1, 2, 5] / 8`. With ε = 0.3 and C = 3 the
    /// target distribution is `0.1` off target and `0.8` on it.
    @Test func labelSmoothingByHand() {
        let row = [Foundation.log(1.0), Foundation.log(2.0), Foundation.log(5.0)]
        let logits = Tensor<Double>(shape: [2, 3], scalars: row + row)
        let loss = CrossEntropyLoss<Double>(labelSmoothing: 0.3)
        // Row 0 targets class 2: 0.1·log 8 + 0.1·log 4 + 0.8·log(8/5).
        // Row 1 targets class 0: 0.8·log 8 + 0.1·log 4 + 0.1·log(8/5).
        let row0 = 0.1 * Foundation.log(8.0) + 0.1 * Foundation.log(4.0) + 0.8 * Foundation.log(1.6)
        let row1 = 0.8 * Foundation.log(8.0) + 0.1 * Foundation.log(4.0) + 0.1 * Foundation.log(1.6)
        let expected = (row0 + row1) / 2
        #expect(Swift.abs(row0 - 0.7225764936765612) < 1e-15)  // the arithmetic, spelled out
        let (value, gradient) = loss.valueAndGradient(logits, target: [2, 0])
        #expect(Swift.abs(value - expected) <= 1e-14)
        // (softmax − q) / N
        let expectedGradient = Tensor<Double>(
            shape: [2, 3], scalars: [0.125 - 0.1, 0.25 - 0.1, 0.625 - 0.8, 0.125 - 0.8, 0.25 - 0.1, 0.625 - 0.1]) / 2
        expectClose(gradient, expectedGradient, rtol: 1e-14, atol: 1e-16)
        let x = DOps.variable(logits, requiresGradient: true)
        let tape = GradientTape<Double>()
        let graphLoss = tape.record { loss(x, target: [2, 0]) }
        #expect(Swift.abs(graphLoss.value.scalar - expected) <= 1e-14)
        expectClose(tape.gradient(of: graphLoss, withRespectTo: [x])[0].value, expectedGradient, rtol: 1e-14, atol: 1e-16)
    }

    /// ε = 0 is the library's plain cross-entropy; ε = 1 is the mean of −log p over all classes.
    @Test func labelSmoothingEnds() {
        let logits: Tensor<Double> = randomTensor([3, 4], seed: 8)
        let plain = DOps.crossEntropy(logits: DOps.constant(logits), classIndices: [1, 3, 0]).value.scalar
        #expect(Swift.abs(CrossEntropyLoss<Double>().valueAndGradient(logits, target: [1, 3, 0]).value - plain) <= 1e-15)
        let logProbabilities = naiveSoftmax(logits, axis: 1, logarithm: true).scalars
        let uniform = -logProbabilities.reduce(0, +) / 4 / 3
        let (value, _) = CrossEntropyLoss<Double>(labelSmoothing: 1).valueAndGradient(logits, target: [1, 3, 0])
        #expect(Swift.abs(value - uniform) <= 1e-14)
    }

    /// MSE, BCE and Huber on a few values worked out by hand.
    @Test func elementwiseLossesByHand() {
        // MSE: differences [1, −2, 0.5] → (1 + 4 + 0.25) / 3 = 1.75; gradient 2d/3.
        let mse = MeanSquaredErrorLoss<Double>().valueAndGradient(Tensor([2, 0, 1.5]), target: Tensor([1, 2, 1]))
        #expect(mse.value == 1.75)
        expectClose(mse.gradient, Tensor([2.0 / 3, -4.0 / 3, 1.0 / 3]), rtol: 1e-15)
        // BCE at x = 0: log 2 for any target; gradient (½ − y) / n.
        let bce = BinaryCrossEntropyWithLogitsLoss<Double>().valueAndGradient(Tensor([0, 0]), target: Tensor([1, 0.25]))
        #expect(Swift.abs(bce.value - Foundation.log(2.0)) <= 1e-15)
        expectClose(bce.gradient, Tensor([-0.25, 0.125]), rtol: 1e-15)
        // Huber δ = 1: differences [0.5, −3, 1] → [0.125, 2.5, 0.5]; gradient [0.5, −1, 1] / 3.
        let huber = HuberLoss<Double>().valueAndGradient(Tensor([0.5, -3, 2]), target: Tensor([0, 0, 1]))
        #expect(Swift.abs(huber.value - 3.125 / 3) <= 1e-15)
        expectClose(huber.gradient, Tensor([0.5, -1, 1]) / 3, rtol: 1e-15)
    }

    /// BCE's graph gradient at exactly x = 0 is σ(0) − y, not what a relu/abs formula would give.
    @Test func binaryCrossEntropyGradientAtZero() {
        let x = DOps.variable(Tensor([0, 0]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let loss = tape.record { BinaryCrossEntropyWithLogitsLoss<Double>()(x, target: Tensor([1, 0])) }
        #expect(tape.gradient(of: loss, withRespectTo: [x])[0].value.scalars == [-0.25, 0.25])
    }
}

// MARK: - Extreme logits

@Suite struct LossExtremeTests {
    /// Runs both paths and returns (manual value, manual gradient, graph value, graph gradient).
    func bothPaths<L: Loss>(_ loss: L, _ prediction: Tensor<L.Scalar>, _ target: L.Target)
        -> (L.Scalar, Tensor<L.Scalar>, L.Scalar, Tensor<L.Scalar>)
    {
        let (value, gradient) = loss.valueAndGradient(prediction, target: target)
        let x = TensorOperations<L.Scalar>.variable(prediction, requiresGradient: true)
        let tape = GradientTape<L.Scalar>()
        let y = tape.record { loss(x, target: target) }
        return (value, gradient, y.value.scalar, tape.gradient(of: y, withRespectTo: [x])[0].value)
    }

    /// ±1e4 in `Double`: exact values, no NaN, on both paths.
    @Test func crossEntropyHugeDoubleLogits() {
        let logits = Tensor<Double>(shape: [2, 3], scalars: [1e4, -1e4, 0, -1e4, 1e4, 0])
        // Row 0 is right with certainty; row 1 gives class 2 log-probability −1e4.
        let (value, gradient, graphValue, graphGradient) = bothPaths(CrossEntropyLoss(), logits, [0, 2])
        #expect(value == 5000 && graphValue == 5000)
        let expected = Tensor<Double>(shape: [2, 3], scalars: [0, 0, 0, 0, 0.5, -0.5])
        #expect(gradient == expected && graphGradient == expected)
        // ε = 0.3: q = [0.8, 0.1, 0.1] and [0.1, 0.1, 0.8]; log p = [0, −2e4, −1e4] and [−2e4, 0, −1e4].
        let smoothed = bothPaths(CrossEntropyLoss(labelSmoothing: 0.3), logits, [0, 2])
        let expectedValue = ((0.1 * 2e4 + 0.1 * 1e4) + (0.1 * 2e4 + 0.8 * 1e4)) / 2
        #expect(Swift.abs(smoothed.0 - expectedValue) <= 1e-12 * expectedValue)
        #expect(Swift.abs(smoothed.2 - expectedValue) <= 1e-12 * expectedValue)
        let expectedSmoothed = Tensor<Double>(shape: [2, 3], scalars: [0.2, -0.1, -0.1, -0.1, 0.9, -0.8]) / 2
        expectClose(smoothed.1, expectedSmoothed, rtol: 1e-12, atol: 1e-15)
        expectClose(smoothed.3, expectedSmoothed, rtol: 1e-12, atol: 1e-15)
    }

    /// ±3e38 in `Float`: a certain right answer costs exactly 0; a wrong one overflows to +∞,
    /// never NaN; gradients stay finite.
    @Test func crossEntropyExtremeFloatLogits() {
        let logits = Tensor<Float>(shape: [2, 2], scalars: [3e38, -3e38, -3e38, 3e38])
        let right = bothPaths(CrossEntropyLoss(), logits, [0, 1])
        #expect(right.0 == 0 && right.2 == 0)
        #expect(right.1.scalars == [0, 0, 0, 0] && right.3.scalars == [0, 0, 0, 0])
        let wrong = bothPaths(CrossEntropyLoss(), logits, [1, 1])
        #expect(wrong.0 == .infinity && wrong.2 == .infinity)
        #expect(isFinite(wrong.1) && isFinite(wrong.3))
        let smoothed = bothPaths(CrossEntropyLoss(labelSmoothing: 0.2), logits, [0, 1])
        #expect(!smoothed.0.isNaN && !smoothed.2.isNaN)
        #expect(isFinite(smoothed.1) && isFinite(smoothed.3))
    }

    /// Masked logits (−∞): finite without smoothing, as `crossEntropy`; +∞ (not NaN) with it,
    /// since the masked class then has a target probability.
    @Test func crossEntropyMaskedLogits() {
        let logits = Tensor<Double>(shape: [1, 3], scalars: [2, -.infinity, 1])
        let (value, gradient, graphValue, graphGradient) = bothPaths(CrossEntropyLoss(), logits, [0])
        let expected = Foundation.log(1 + Foundation.exp(-1.0))
        #expect(Swift.abs(value - expected) <= 1e-15 && Swift.abs(graphValue - expected) <= 1e-15)
        let p = Foundation.exp(2.0) / (Foundation.exp(2.0) + Foundation.exp(1.0))
        let expectedGradient = Tensor<Double>(shape: [1, 3], scalars: [p - 1, 0, 1 - p])
        expectClose(gradient, expectedGradient, rtol: 1e-14)
        expectClose(graphGradient, expectedGradient, rtol: 1e-14)
        let smoothed = bothPaths(CrossEntropyLoss(labelSmoothing: 0.3), logits, [0])
        #expect(smoothed.0 == .infinity && smoothed.2 == .infinity)
        #expect(isFinite(smoothed.1) && isFinite(smoothed.3))
    }

    /// BCE at ±1e4 (`Double`), ±3e38 (`Float`) and ±∞: exact values, no NaN.
    @Test func binaryCrossEntropyExtremeLogits() {
        let loss = BinaryCrossEntropyWithLogitsLoss<Double>()
        let double = bothPaths(loss, Tensor([1e4, -1e4, 1e4, -1e4]), Tensor([1, 0, 0, 1]))
        #expect(double.0 == 5000 && double.2 == 5000)
        #expect(double.1.scalars == [0, 0, 0.25, -0.25] && double.3.scalars == [0, 0, 0.25, -0.25])
        // Losses [0, 0, 1.5e38, 1.5e38] (their sum still fits in Float).
        let float = bothPaths(BinaryCrossEntropyWithLogitsLoss<Float>(), Tensor([3e38, -3e38, 3e38, -3e38]), Tensor([1, 0, 0.5, 0.5]))
        #expect(float.0 == 7.5e37 && float.2 == 7.5e37)
        #expect(float.1.scalars == [0, 0, 0.125, -0.125] && float.3.scalars == [0, 0, 0.125, -0.125])
        // Infinite logits with the matching target cost 0; with the other target, +∞.
        let infinite = bothPaths(loss, Tensor([.infinity, -.infinity]), Tensor([1, 0]))
        #expect(infinite.0 == 0 && infinite.2 == 0)
        #expect(infinite.1.scalars == [0, 0] && infinite.3.scalars == [0, 0])
        let wrong = bothPaths(loss, Tensor([.infinity, -.infinity]), Tensor([0, 1]))
        #expect(wrong.0 == .infinity && wrong.2 == .infinity)
        #expect(wrong.1.scalars == [0.5, -0.5] && wrong.3.scalars == [0.5, -0.5])
        // A confident right answer keeps the small term: log1p(e⁻²⁰) ≈ 2.06e-9, not 0.
        let confident = loss.valueAndGradient(Tensor([20]), target: Tensor([1])).value
        #expect(Swift.abs(confident - Foundation.log1p(Foundation.exp(-20.0))) <= 1e-24)
        let floatConfident = BinaryCrossEntropyWithLogitsLoss<Float>().valueAndGradient(Tensor([20]), target: Tensor([1])).value
        #expect(floatConfident > 0)
    }

    /// Huber far in the tails: linear, finite, gradient ±δ/n.
    @Test func huberTails() {
        let tails = bothPaths(HuberLoss<Float>(delta: 2), Tensor([1e30, -1e30]), Tensor([0, 0]))
        #expect(tails.0 == 2e30 && tails.2 == 2e30)  // 2 · (1e30 − 1), rounded
        #expect(tails.1.scalars == [1, -1] && tails.3.scalars == [1, -1])
    }
}

// MARK: - Misuse

@Suite struct LossMisuseTests {
    @Test func meanSquaredErrorShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MeanSquaredErrorLoss<Double>().valueAndGradient(.zeros(shape: [2, 3]), target: .zeros(shape: [3, 2]))
        }
        #expect(standardError(result).contains(
            "MeanSquaredErrorLoss: prediction [2, 3] and target [3, 2]: shapes differ"))
    }

    @Test func meanSquaredErrorGraphEmpty() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MeanSquaredErrorLoss<Float>()(FOps.constant(.zeros(shape: [0, 3])), target: .zeros(shape: [0, 3]))
        }
        #expect(standardError(result).contains(
            "MeanSquaredErrorLoss: prediction [0, 3] is empty: the mean of no elements is undefined"))
    }

    @Test func crossEntropyLogitsRank() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = CrossEntropyLoss<Double>().valueAndGradient(.zeros(shape: [2, 3, 4]), target: [0, 1])
        }
        #expect(standardError(result).contains("CrossEntropyLoss: logits [2, 3, 4] must be [N, C]"))
    }

    @Test func crossEntropyIndexCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = CrossEntropyLoss<Double>()(DOps.constant(.zeros(shape: [2, 3])), target: [0, 1, 2])
        }
        #expect(standardError(result).contains(
            "CrossEntropyLoss: logits [2, 3] and 3 class indices: counts differ"))
    }

    @Test func crossEntropyIndexOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = CrossEntropyLoss<Float>().valueAndGradient(.zeros(shape: [2, 3]), target: [0, 3])
        }
        #expect(standardError(result).contains(
            "CrossEntropyLoss: class index 3 at row 1 is out of range for logits [2, 3]"))
    }

    @Test func labelSmoothingRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = CrossEntropyLoss<Double>(labelSmoothing: 1.5)
        }
        #expect(standardError(result).contains("CrossEntropyLoss: label smoothing 1.5 must be in [0, 1]"))
    }

    @Test func binaryCrossEntropyShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BinaryCrossEntropyWithLogitsLoss<Double>()(DOps.constant(.zeros(shape: [4])), target: .zeros(shape: [4, 1]))
        }
        #expect(standardError(result).contains(
            "BinaryCrossEntropyWithLogitsLoss: prediction [4] and target [4, 1]: shapes differ"))
    }

    @Test func huberShapesAndDelta() async {
        let shapes = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = HuberLoss<Double>().valueAndGradient(.zeros(shape: [2]), target: .zeros(shape: [3]))
        }
        #expect(standardError(shapes).contains("HuberLoss: prediction [2] and target [3]: shapes differ"))
        let delta = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = HuberLoss<Double>(delta: 0)
        }
        #expect(standardError(delta).contains("HuberLoss: delta 0.0 must be positive and finite"))
    }
}
