import Foundation
import Testing

@testable import Nabla

// Rows for softmax, cross-entropy and normalization ops, with naive loop references that share
// no code with the library's reductions.

extension OperationSpec {
    /// The rows of the softmax, loss and normalization ops.
    static let normalization: [OperationSpec] = [
        .init(name: "softmax(alongAxis: 1)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.softmax($0[0], alongAxis: 1) }, float: { FOps.softmax($0[0], alongAxis: 1) },
              reference: { naiveSoftmax($0[0], axis: 1) }),
        .init(name: "softmax(alongAxis: 0)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.softmax($0[0], alongAxis: 0) }, float: { FOps.softmax($0[0], alongAxis: 0) },
              reference: { naiveSoftmax($0[0], axis: 0) }),
        .init(name: "logSoftmax(alongAxis: 1)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.logSoftmax($0[0], alongAxis: 1) }, float: { FOps.logSoftmax($0[0], alongAxis: 1) },
              reference: { naiveSoftmax($0[0], axis: 1, logarithm: true) }),
        .init(name: "logSoftmax(alongAxis: 0)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.logSoftmax($0[0], alongAxis: 0) }, float: { FOps.logSoftmax($0[0], alongAxis: 0) },
              reference: { naiveSoftmax($0[0], axis: 0, logarithm: true) }),
        .init(name: "crossEntropy(labels)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.crossEntropy(logits: $0[0], labels: softLabels()) },
              float: { FOps.crossEntropy(logits: $0[0], labels: converted(softLabels())) },
              reference: { naiveCrossEntropy($0[0], labels: softLabels()) }),
        .init(name: "crossEntropy(classIndices)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.crossEntropy(logits: $0[0], classIndices: [2, 0, 3]) },
              float: { FOps.crossEntropy(logits: $0[0], classIndices: [2, 0, 3]) },
              reference: { naiveCrossEntropy($0[0], labels: oneHot([2, 0, 3], classes: 4)) }),
        .init(name: "batchNorm(training, [N, F])", inputShapes: [[4, 3], [3], [3]], domain: .any,
              double: { DOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0], epsilon: 1e-3) },
              float: { FOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0], epsilon: 1e-3) },
              reference: { x in naiveBatchNorm(x[0], axes: [0], scale: x[1], offset: x[2], epsilon: 1e-3) }),
        .init(name: "batchNorm(training, NCHW)", inputShapes: [[2, 3, 2, 2], [3], [1, 3, 1, 1]], domain: .any,
              double: { DOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0, 2, 3], epsilon: 1e-3) },
              float: { FOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0, 2, 3], epsilon: 1e-3) },
              reference: { x in naiveBatchNorm(x[0], axes: [0, 2, 3], scale: x[1], offset: x[2], epsilon: 1e-3) }),
        .init(name: "batchNorm(inference, [N, F])", inputShapes: [[4, 3], [3], [3]], domain: .any,
              double: { x in
                  var running = BatchNormRunningStatistics(mean: runningMean(), variance: runningVariance())
                  return DOps.batchNorm(x[0], scale: x[1], offset: x[2], axes: [0], epsilon: 1e-3,
                                        running: &running, isTraining: false)
              },
              float: { x in
                  var running = BatchNormRunningStatistics<Float>(mean: converted(runningMean()), variance: converted(runningVariance()))
                  return FOps.batchNorm(x[0], scale: x[1], offset: x[2], axes: [0], epsilon: 1e-3,
                                        running: &running, isTraining: false)
              },
              reference: { x in
                  naiveBatchNorm(x[0], axes: [0], scale: x[1], offset: x[2], epsilon: 1e-3,
                                 running: (runningMean(), runningVariance()))
              }),
        .init(name: "layerNorm(axes: [-1])", inputShapes: [[3, 4], [4], [4]], domain: .any,
              double: { DOps.layerNorm($0[0], scale: $0[1], offset: $0[2], epsilon: 1e-3) },
              float: { FOps.layerNorm($0[0], scale: $0[1], offset: $0[2], epsilon: 1e-3) },
              reference: { x in naiveLayerNorm(x[0], trailingAxes: 1, scale: x[1], offset: x[2], epsilon: 1e-3) }),
        .init(name: "layerNorm(axes: [1, 2])", inputShapes: [[2, 2, 3], [2, 3], [2, 3]], domain: .any,
              double: { DOps.layerNorm($0[0], scale: $0[1], offset: $0[2], axes: [1, 2], epsilon: 1e-3) },
              float: { FOps.layerNorm($0[0], scale: $0[1], offset: $0[2], axes: [1, 2], epsilon: 1e-3) },
              reference: { x in naiveLayerNorm(x[0], trailingAxes: 2, scale: x[1], offset: x[2], epsilon: 1e-3) }),
        .init(name: "standardize(alongAxes: [0, 2])", inputShapes: [[3, 2, 4]], domain: .any,
              double: { DOps.standardize($0[0], alongAxes: [0, 2], epsilon: 1e-3) },
              float: { FOps.standardize($0[0], alongAxes: [0, 2], epsilon: 1e-3) },
              reference: { x in naiveBatchNorm(x[0], axes: [0, 2], scale: .ones(shape: [2]), offset: .zeros(shape: [2]), epsilon: 1e-3) }),
        .init(name: "groupNorm(groups: 2, NCHW)", inputShapes: [[2, 4, 2, 2], [4], [4]], domain: .any,
              double: { DOps.groupNorm($0[0], groups: 2, scale: $0[1], offset: $0[2], epsilon: 1e-3) },
              float: { FOps.groupNorm($0[0], groups: 2, scale: $0[1], offset: $0[2], epsilon: 1e-3) },
              reference: { x in naiveGroupNorm(x[0], groups: 2, scale: x[1], offset: x[2], epsilon: 1e-3) }),
    ]
}

// MARK: - Fixed constants

/// Probability rows (each sums to 1), including a one-hot row and a zero entry.
func softLabels() -> Tensor<Double> {
    Tensor(shape: [3, 4], scalars: [0.1, 0.2, 0.3, 0.4, 0, 0, 1, 0, 0.25, 0.5, 0, 0.25])
}

func oneHot(_ indices: [Int], classes: Int) -> Tensor<Double> {
    var scalars = [Double](repeating: 0, count: indices.count * classes)
    for (row, index) in indices.enumerated() { scalars[row * classes + index] = 1 }
    return Tensor(shape: [indices.count, classes], scalars: scalars)
}

func runningMean() -> Tensor<Double> { Tensor([0.1, -0.2, 0.3]) }
func runningVariance() -> Tensor<Double> { Tensor([0.5, 1.5, 0.8]) }

// MARK: - Naive references

/// Naive (log-)softmax of a `[rows, columns]` matrix along `axis`, with the maximum subtracted.
func naiveSoftmax(_ x: Tensor<Double>, axis: Int, logarithm: Bool = false) -> Tensor<Double> {
    let (rows, columns) = (x.shape[0], x.shape[1])
    let v = x.scalars
    var out = [Double](repeating: 0, count: v.count)
    let (lines, length) = axis == 1 ? (rows, columns) : (columns, rows)
    for line in 0..<lines {
        let index = { (k: Int) in axis == 1 ? line * columns + k : k * columns + line }
        var largest = -Double.infinity
        for k in 0..<length { largest = Swift.max(largest, v[index(k)]) }
        var total = 0.0
        for k in 0..<length { total += Foundation.exp(v[index(k)] - largest) }
        for k in 0..<length {
            let shifted = v[index(k)] - largest
            out[index(k)] = logarithm ? shifted - Foundation.log(total) : Foundation.exp(shifted) / total
        }
    }
    return Tensor(shape: x.shape, scalars: out)
}

/// Naive mean cross-entropy of `[N, C]` logits against label rows.
func naiveCrossEntropy(_ logits: Tensor<Double>, labels: Tensor<Double>) -> Tensor<Double> {
    let logProbabilities = naiveSoftmax(logits, axis: 1, logarithm: true).scalars
    var loss = 0.0
    for (p, q) in zip(labels.scalars, logProbabilities) { loss -= p * q }
    return Tensor(loss / Double(logits.shape[0]))
}

/// For each element of a tensor of `shape`, the row-major index of its position among the
/// axes not in `axes`: the group whose statistics it shares.
func naiveGroupKeys(_ shape: [Int], droppingAxes axes: [Int]) -> [Int] {
    (0..<shape.reduce(1, *)).map { flat in
        var rest = flat
        var index = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        var key = 0
        for axis in shape.indices where !axes.contains(axis) { key = key * shape[axis] + index[axis] }
        return key
    }
}

/// `(x − mean) / sqrt(variance + epsilon)` with mean and biased variance per group key.
func naiveStandardize(_ x: [Double], keys: [Int], epsilon: Double) -> [Double] {
    let groups = (keys.max() ?? -1) + 1
    var sums = [Double](repeating: 0, count: groups), counts = sums, squares = sums
    for (value, key) in zip(x, keys) {
        sums[key] += value
        counts[key] += 1
    }
    let means = zip(sums, counts).map { $0 / $1 }
    for (value, key) in zip(x, keys) { squares[key] += (value - means[key]) * (value - means[key]) }
    let variances = zip(squares, counts).map { $0 / $1 }
    return zip(x, keys).map { value, key in (value - means[key]) / (variances[key] + epsilon).squareRoot() }
}

/// Naive batch norm; `scale`, `offset` and running statistics are indexed by group key.
func naiveBatchNorm(
    _ x: Tensor<Double>, axes: [Int], scale: Tensor<Double>, offset: Tensor<Double>,
    epsilon: Double, running: (mean: Tensor<Double>, variance: Tensor<Double>)? = nil
) -> Tensor<Double> {
    let keys = naiveGroupKeys(x.shape, droppingAxes: axes)
    let normalized: [Double]
    if let running {
        normalized = zip(x.scalars, keys).map { value, key in
            (value - running.mean.scalars[key]) / (running.variance.scalars[key] + epsilon).squareRoot()
        }
    } else {
        normalized = naiveStandardize(x.scalars, keys: keys, epsilon: epsilon)
    }
    let (g, b) = (scale.scalars, offset.scalars)
    return Tensor(shape: x.shape, scalars: zip(normalized, keys).map { $0 * g[$1] + b[$1] })
}

/// Naive layer norm over the last `trailingAxes` axes, with elementwise scale and offset.
func naiveLayerNorm(
    _ x: Tensor<Double>, trailingAxes: Int, scale: Tensor<Double>, offset: Tensor<Double>, epsilon: Double
) -> Tensor<Double> {
    let rank = x.shape.count
    let keys = naiveGroupKeys(x.shape, droppingAxes: Array((rank - trailingAxes)..<rank))
    let positions = naiveGroupKeys(x.shape, droppingAxes: Array(0..<(rank - trailingAxes)))
    let normalized = naiveStandardize(x.scalars, keys: keys, epsilon: epsilon)
    let (g, b) = (scale.scalars, offset.scalars)
    return Tensor(shape: x.shape, scalars: zip(normalized, positions).map { $0 * g[$1] + b[$1] })
}

/// Naive group norm of `[N, C, …]` with per-channel scale and offset.
func naiveGroupNorm(
    _ x: Tensor<Double>, groups: Int, scale: Tensor<Double>, offset: Tensor<Double>, epsilon: Double
) -> Tensor<Double> {
    let (channels, spatial) = (x.shape[1], x.shape.dropFirst(2).reduce(1, *))
    let perGroup = channels / groups
    var keys: [Int] = [], channelOf: [Int] = []
    for n in 0..<x.shape[0] {
        for c in 0..<channels {
            for _ in 0..<spatial {
                keys.append(n * groups + c / perGroup)
                channelOf.append(c)
            }
        }
    }
    let normalized = naiveStandardize(x.scalars, keys: keys, epsilon: epsilon)
    let (g, b) = (scale.scalars, offset.scalars)
    return Tensor(shape: x.shape, scalars: zip(normalized, channelOf).map { $0 * g[$1] + b[$1] })
}

// MARK: - Stability and closed forms

@Suite struct SoftmaxStabilityTests {
    /// Logits of ±1000, far beyond where a naive `exp` overflows.
    static let hugeLogits = Tensor<Double>(
        shape: [3, 4], scalars: [1000, -1000, 0, 999, -1000, -1000, -1000, -999, 1000, 1000, -1000, 0])

    @Test func softmaxAndLogSoftmaxAreFiniteForHugeLogits() {
        let x = DOps.constant(Self.hugeLogits)
        let y = DOps.softmax(x, alongAxis: 1).value
        #expect(isFinite(y))
        expectClose(y, naiveSoftmax(Self.hugeLogits, axis: 1), rtol: 1e-12, atol: 1e-300)
        let logY = DOps.logSoftmax(x, alongAxis: 1).value
        #expect(isFinite(logY))
        expectClose(logY, naiveSoftmax(Self.hugeLogits, axis: 1, logarithm: true), rtol: 1e-12, atol: 1e-9)
        let floatY = FOps.softmax(FOps.constant(converted(Self.hugeLogits)), alongAxis: 1).value
        #expect(isFinite(floatY))
        let floatLogY = FOps.logSoftmax(FOps.constant(converted(Self.hugeLogits)), alongAxis: 1).value
        #expect(isFinite(floatLogY))
    }

    @Test(arguments: [false, true])
    func crossEntropyIsFiniteForHugeLogits(_ isFloat: Bool) {
        if isFloat {
            let logits = FOps.variable(converted(Self.hugeLogits))
            let tape = GradientTape<Float>()
            tape.watch(logits)
            let loss = tape.record { FOps.crossEntropy(logits: logits, labels: converted(softLabels())) }
            let gradient = tape.gradient(of: loss, withRespectTo: [logits])[0].value
            #expect(loss.value.scalar.isFinite)
            #expect(isFinite(gradient))
        } else {
            let logits = DOps.variable(Self.hugeLogits)
            let tape = GradientTape<Double>()
            tape.watch(logits)
            let loss = tape.record { DOps.crossEntropy(logits: logits, labels: softLabels()) }
            let gradient = tape.gradient(of: loss, withRespectTo: [logits])[0].value
            #expect(loss.value.scalar.isFinite)
            #expect(isFinite(gradient))
            expectClose(loss.value, naiveCrossEntropy(Self.hugeLogits, labels: softLabels()), rtol: 1e-12)
        }
    }

    /// ∂/∂logits of the mean cross-entropy is `(softmax(logits) − labels) / N`, computed here
    /// with naive loops, for ordinary and for huge logits.
    @Test(arguments: [1.0, 1000.0])
    func crossEntropyGradientIsSoftmaxMinusLabelsOverN(_ magnitude: Double) {
        var generator = SeededGenerator(seed: 7)
        let values = Tensor<Double>.randomUniform(shape: [3, 4], in: -1..<1, using: &generator) * magnitude
        for labels in [softLabels(), oneHot([1, 3, 0], classes: 4)] {
            let logits = DOps.variable(values)
            let tape = GradientTape<Double>()
            tape.watch(logits)
            let loss = tape.record { DOps.crossEntropy(logits: logits, labels: labels) }
            let gradient = tape.gradient(of: loss, withRespectTo: [logits])[0].value
            let probabilities = naiveSoftmax(values, axis: 1).scalars
            let expected = Tensor(
                shape: [3, 4], scalars: zip(probabilities, labels.scalars).map { ($0 - $1) / 3 })
            expectClose(gradient, expected, rtol: 1e-10, atol: 1e-14)
        }
    }

    /// Training updates the running statistics with PyTorch's rule (unbiased variance, momentum
    /// 0.1) over three steps, checked against naive loops; inference then normalizes with them.
    @Test func batchNormUpdatesRunningStatistics() {
        var running = BatchNormRunningStatistics<Double>(shape: [3])
        var expectedMean = [0.0, 0, 0], expectedVariance = [1.0, 1, 1]
        let keys = naiveGroupKeys([2, 3, 2, 2], droppingAxes: [0, 2, 3])
        let (gamma, beta) = (DOps.constant(.ones(shape: [3])), DOps.constant(.zeros(shape: [3])))
        for step in 0..<3 {
            let x: Tensor<Double> = randomTensor([2, 3, 2, 2], seed: UInt64(10 + step))
            let y = DOps.batchNorm(
                DOps.constant(x), scale: gamma, offset: beta, axes: [0, 2, 3], running: &running,
                isTraining: true)
            expectClose(y.value, naiveBatchNorm(x, axes: [0, 2, 3], scale: .ones(shape: [3]), offset: .zeros(shape: [3]), epsilon: 1e-5), rtol: 1e-12, atol: 1e-12)
            for channel in 0..<3 {
                let values = zip(x.scalars, keys).filter { $1 == channel }.map(\.0)
                let mean = values.reduce(0, +) / Double(values.count)
                let unbiased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
                expectedMean[channel] = 0.9 * expectedMean[channel] + 0.1 * mean
                expectedVariance[channel] = 0.9 * expectedVariance[channel] + 0.1 * unbiased
            }
            expectClose(running.mean, Tensor(expectedMean), rtol: 1e-12, atol: 1e-14)
            expectClose(running.variance, Tensor(expectedVariance), rtol: 1e-12, atol: 1e-14)
        }
        let x: Tensor<Double> = randomTensor([2, 3, 2, 2], seed: 20)
        let frozen = running
        let y = DOps.batchNorm(DOps.constant(x), scale: gamma, offset: beta, axes: [0, 2, 3], running: &running, isTraining: false)
        #expect(running.mean == frozen.mean && running.variance == frozen.variance)
        let expected = x.scalars.enumerated().map { index, value in
            let channel = keys[index]
            return (value - expectedMean[channel]) / (expectedVariance[channel] + 1e-5).squareRoot()
        }
        expectClose(y.value, Tensor(shape: x.shape, scalars: expected), rtol: 1e-12, atol: 1e-12)
    }
}

// MARK: - Misuse

@Suite struct NormalizationMisuseTests {
    @Test func crossEntropyLabelShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.crossEntropy(logits: DOps.constant(.zeros(shape: [2, 3])), labels: .zeros(shape: [2, 4]))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("crossEntropy: logits [2, 3] and labels [2, 4]: shapes differ"))
    }

    @Test func batchNormScaleShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.batchNorm(
                DOps.constant(.zeros(shape: [2, 3, 2, 2])), scale: DOps.constant(.ones(shape: [2])),
                offset: DOps.constant(.zeros(shape: [3])), axes: [0, 2, 3])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains(
            "batchNorm: x [2, 3, 2, 2] normalized over axes [0, 2, 3] and scale [2]: scale must be [3] or [1, 3, 1, 1]"))
    }

    @Test func groupNormIndivisibleChannels() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.groupNorm(
                DOps.constant(.zeros(shape: [1, 6, 2, 2])), groups: 4, scale: DOps.constant(.ones(shape: [6])),
                offset: DOps.constant(.zeros(shape: [6])))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("groupNorm: x [1, 6, 2, 2]: 6 channels do not split into 4 groups"))
    }

    @Test func layerNormLeadingAxes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.layerNorm(
                DOps.constant(.zeros(shape: [2, 3])), scale: DOps.constant(.ones(shape: [2])),
                offset: DOps.constant(.zeros(shape: [2])), axes: [0])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("layerNorm: x [2, 3] and axes [0]: axes must be the trailing ones"))
    }
}

/// Whether every scalar of `x` is finite.
func isFinite<Scalar: TensorScalar>(_ x: Tensor<Scalar>) -> Bool {
    x.scalars.allSatisfy { $0.isFinite }
}
