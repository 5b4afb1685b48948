import Foundation
import Testing

@testable import Nabla

typealias DOps = TensorOperations<Double>
typealias FOps = TensorOperations<Float>

/// Where an op's inputs are drawn from, so that finite differences stay valid.
enum InputDomain: Sendable {
    /// Uniform in (−1, 1).
    case any
    /// Uniform in (0.5, 2): for log, sqrt, pow.
    case positive
    /// |x| in (0.1, 1) with a random sign: away from kinks at 0 (ReLU, abs).
    case awayFromZero
    /// Distinct values at least 0.01 apart: no ties for max and max-pool.
    case distinct
    /// Like `.distinct`, shifted by 0, 0.005, 0.01 or 0.015 by seed, so that inputs drawn with
    /// consecutive seeds share no value either: no ties for maximum and minimum.
    case separated
    /// Uniform in (−5, 5), at least 0.1 away from 0 and ±3: both sides of the kinks of ELU and
    /// Hardswish, never on them.
    case wide

    func sample(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        switch self {
        case .any: return .randomUniform(shape: shape, in: -1..<1, using: &generator)
        case .positive: return .randomUniform(shape: shape, in: 0.5..<2, using: &generator)
        case .awayFromZero:
            let magnitude = Tensor<Double>.randomUniform(shape: shape, in: 0.1..<1, using: &generator)
            let sign = Tensor<Double>.randomUniform(shape: shape, in: -1..<1, using: &generator)
                .map { $0 < 0 ? -1 : 1 }
            return magnitude * sign
        case .distinct:
            var values = (0..<count).map { Double($0) * 0.02 - Double(count) * 0.01 }
            values.shuffle(using: &generator)
            return Tensor(shape: shape, scalars: values)
        case .separated:
            return InputDomain.distinct.sample(shape, seed: seed) + Double(seed % 4) * 0.005
        case .wide:
            return Tensor<Double>.randomUniform(shape: shape, in: -5..<5, using: &generator).map { x in
                let kink = [-3.0, 0, 3].min { abs(x - $0) < abs(x - $1) }!
                return abs(x - kink) < 0.1 ? kink + (x < kink ? -0.1 : 0.1) : x
            }
        }
    }
}

/// One row of the op table: the op in `Double` and `Float`, a reference forward written with
/// naive loops, the input domain and tolerances.
struct OperationSpec: Sendable, CustomTestStringConvertible {
    let name: String
    let inputShapes: [[Int]]
    let domain: InputDomain
    let double: @Sendable ([Variable<Double>]) -> Variable<Double>
    let float: @Sendable ([Variable<Float>]) -> Variable<Float>
    let reference: @Sendable ([Tensor<Double>]) -> Tensor<Double>
    /// Why a row skips the second-order check; the table should end with none.
    var secondOrderSkipReason: String? = nil
    var firstOrderTolerance = (atol: 1e-5, rtol: 1e-3)

    var testDescription: String { name }

    func inputs(seed: UInt64 = 1) -> [Tensor<Double>] {
        inputShapes.enumerated().map { domain.sample($1, seed: seed &+ UInt64($0)) }
    }
}

/// Converts a `Double` tensor to `Float`, or back.
func converted<A: TensorScalar, B: TensorScalar>(_ x: Tensor<A>, to: B.Type = B.self) -> Tensor<B> {
    Tensor(shape: x.shape, scalars: x.scalars.map { B($0) })
}

/// A reference that applies `f` to every scalar of the first input.
func elementwiseReference(_ f: @escaping @Sendable (Double) -> Double) -> @Sendable ([Tensor<Double>]) -> Tensor<Double> {
    { x in Tensor(shape: x[0].shape, scalars: x[0].scalars.map(f)) }
}

/// A naive broadcasting reference of a binary scalar function.
func binaryReference(_ f: @escaping @Sendable (Double, Double) -> Double) -> @Sendable ([Tensor<Double>]) -> Tensor<Double> {
    { x in naiveBroadcast(x[0], x[1], f) }
}

/// Naive `[m, k] · [k, n]`.
func naiveMatrixProduct(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Tensor<Double> {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    var out = [Double](repeating: 0, count: m * n)
    let av = a.scalars, bv = b.scalars
    for i in 0..<m { for j in 0..<n { for p in 0..<k { out[i * n + j] += av[i * k + p] * bv[p * n + j] } } }
    return Tensor(shape: [m, n], scalars: out)
}

/// Naive sum of a [rows, columns] matrix along one axis.
func naiveAxisSum(_ x: Tensor<Double>, axis: Int) -> Tensor<Double> {
    let (rows, columns) = (x.shape[0], x.shape[1])
    let v = x.scalars
    if axis == 0 { return Tensor((0..<columns).map { j in (0..<rows).reduce(0) { $0 + v[$1 * columns + j] } }) }
    return Tensor((0..<rows).map { i in v[(i * columns)..<((i + 1) * columns)].reduce(0, +) })
}

extension OperationSpec {
    /// The rows of the core op families: arithmetic, elementwise, reductions, shape, matmul.
    static let core: [OperationSpec] =
        arithmetic + elementwise + reductionsAndShapes + products + scalingAndSelection

    static let arithmetic: [OperationSpec] = [
        .init(name: "add", inputShapes: [[3, 4], [4]], domain: .any,
              double: { DOps.add($0[0], $0[1]) }, float: { FOps.add($0[0], $0[1]) }, reference: binaryReference(+)),
        .init(name: "subtract", inputShapes: [[3, 1], [1, 4]], domain: .any,
              double: { DOps.subtract($0[0], $0[1]) }, float: { FOps.subtract($0[0], $0[1]) }, reference: binaryReference(-)),
        .init(name: "multiply", inputShapes: [[2, 3, 4], [3, 1]], domain: .any,
              double: { DOps.multiply($0[0], $0[1]) }, float: { FOps.multiply($0[0], $0[1]) }, reference: binaryReference(*)),
        .init(name: "divide", inputShapes: [[3, 4], [4]], domain: .positive,
              double: { DOps.divide($0[0], $0[1]) }, float: { FOps.divide($0[0], $0[1]) }, reference: binaryReference(/)),
        .init(name: "negate", inputShapes: [[5]], domain: .any,
              double: { DOps.negate($0[0]) }, float: { FOps.negate($0[0]) }, reference: elementwiseReference { -$0 }),
    ]

    static let elementwise: [OperationSpec] = [
        .init(name: "exp", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.exp($0[0]) }, float: { FOps.exp($0[0]) }, reference: elementwiseReference(Foundation.exp)),
        .init(name: "log", inputShapes: [[3, 4]], domain: .positive,
              double: { DOps.log($0[0]) }, float: { FOps.log($0[0]) }, reference: elementwiseReference(Foundation.log)),
        .init(name: "sqrt", inputShapes: [[3, 4]], domain: .positive,
              double: { DOps.sqrt($0[0]) }, float: { FOps.sqrt($0[0]) }, reference: elementwiseReference { $0.squareRoot() }),
        .init(name: "square", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.square($0[0]) }, float: { FOps.square($0[0]) }, reference: elementwiseReference { $0 * $0 }),
        .init(name: "pow", inputShapes: [[3, 4]], domain: .positive,
              double: { DOps.pow($0[0], 2.5) }, float: { FOps.pow($0[0], 2.5) }, reference: elementwiseReference { Foundation.pow($0, 2.5) }),
        .init(name: "abs", inputShapes: [[3, 4]], domain: .awayFromZero,
              double: { DOps.abs($0[0]) }, float: { FOps.abs($0[0]) }, reference: elementwiseReference(Swift.abs)),
        .init(name: "tanh", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.tanh($0[0]) }, float: { FOps.tanh($0[0]) }, reference: elementwiseReference(Foundation.tanh)),
        .init(name: "sigmoid", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.sigmoid($0[0]) }, float: { FOps.sigmoid($0[0]) }, reference: elementwiseReference { 1 / (1 + Foundation.exp(-$0)) }),
        .init(name: "relu", inputShapes: [[3, 4]], domain: .awayFromZero,
              double: { DOps.relu($0[0]) }, float: { FOps.relu($0[0]) }, reference: elementwiseReference { $0 > 0 ? $0 : 0 }),
        .init(name: "leakyRelu", inputShapes: [[3, 4]], domain: .awayFromZero,
              double: { DOps.leakyRelu($0[0], slope: 0.2) }, float: { FOps.leakyRelu($0[0], slope: 0.2) }, reference: elementwiseReference { $0 > 0 ? $0 : 0.2 * $0 }),
        .init(name: "gelu", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.gelu($0[0]) }, float: { FOps.gelu($0[0]) },
              reference: elementwiseReference { x in x * 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }),
        .init(name: "gelu(approximate: .tanh)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.gelu($0[0], approximate: .tanh) }, float: { FOps.gelu($0[0], approximate: .tanh) },
              reference: elementwiseReference { x in 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }),
        .init(name: "clamp", inputShapes: [[3, 4]], domain: .awayFromZero,
              double: { DOps.clamp($0[0], to: -0.5...0.5) }, float: { FOps.clamp($0[0], to: -0.5...0.5) },
              reference: elementwiseReference { Swift.min(Swift.max($0, -0.5), 0.5) }),
        .init(name: "dropout", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.dropout($0[0], mask: dropoutMask(), keepProbability: 0.75) },
              float: { FOps.dropout($0[0], mask: converted(dropoutMask()), keepProbability: 0.75) },
              reference: { x in Tensor(shape: [3, 4], scalars: zip(x[0].scalars, dropoutMask().scalars).map { $0 * $1 / 0.75 }) }),
    ]

    static let reductionsAndShapes: [OperationSpec] = [
        .init(name: "sum(axes: [0])", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.sum($0[0], alongAxes: [0]) }, float: { FOps.sum($0[0], alongAxes: [0]) },
              reference: { naiveAxisSum($0[0], axis: 0) }),
        .init(name: "sum", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.sum($0[0]) }, float: { FOps.sum($0[0]) }, reference: { Tensor($0[0].scalars.reduce(0, +)) }),
        .init(name: "mean(axes: [1], keepingDimensions)", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.mean($0[0], alongAxes: [1], keepingDimensions: true) },
              float: { FOps.mean($0[0], alongAxes: [1], keepingDimensions: true) },
              reference: { (naiveAxisSum($0[0], axis: 1) / 4).reshaped(to: [3, 1]) }),
        .init(name: "max(axes: [1])", inputShapes: [[3, 4]], domain: .distinct,
              double: { DOps.max($0[0], alongAxes: [1]) }, float: { FOps.max($0[0], alongAxes: [1]) },
              reference: { x in Tensor((0..<3).map { i in (0..<4).map { x[0][i, $0] }.max()! }) }),
        .init(name: "variance(axes: [0])", inputShapes: [[4, 3]], domain: .any,
              double: { DOps.variance($0[0], alongAxes: [0]) }, float: { FOps.variance($0[0], alongAxes: [0]) },
              reference: { x in
                  Tensor((0..<3).map { j in
                      let column = (0..<4).map { x[0][$0, j] }
                      let mean = column.reduce(0, +) / 4
                      return column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
                  })
              }),
        .init(name: "reshape", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.reshape($0[0], to: [2, 6]) }, float: { FOps.reshape($0[0], to: [2, 6]) },
              reference: { Tensor(shape: [2, 6], scalars: $0[0].scalars) }),
        .init(name: "transpose", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.transpose($0[0]) }, float: { FOps.transpose($0[0]) },
              reference: { x in Tensor(shape: [4, 3], scalars: (0..<4).flatMap { j in (0..<3).map { x[0][$0, j] } }) }),
        .init(name: "transpose(permutation)", inputShapes: [[2, 3, 4]], domain: .any,
              double: { DOps.transpose($0[0], permutation: [1, 2, 0]) }, float: { FOps.transpose($0[0], permutation: [1, 2, 0]) },
              reference: { x in
                  Tensor(shape: [3, 4, 2], scalars: (0..<3).flatMap { j in (0..<4).flatMap { k in (0..<2).map { x[0][$0, j, k] } } })
              }),
        .init(name: "concatenate", inputShapes: [[2, 3], [2, 2]], domain: .any,
              double: { DOps.concatenate($0, alongAxis: 1) }, float: { FOps.concatenate($0, alongAxis: 1) },
              reference: { x in
                  Tensor(shape: [2, 5], scalars: (0..<2).flatMap { i in (0..<3).map { x[0][i, $0] } + (0..<2).map { x[1][i, $0] } })
              }),
        .init(name: "split", inputShapes: [[4, 3]], domain: .any,
              double: { DOps.split($0[0], sizes: [1, 3])[1] }, float: { FOps.split($0[0], sizes: [1, 3])[1] },
              reference: { Tensor(shape: [3, 3], scalars: Array($0[0].scalars[3...])) }),
        .init(name: "slice", inputShapes: [[3, 5]], domain: .any,
              double: { DOps.slice($0[0], alongAxis: 1, 1..<4) }, float: { FOps.slice($0[0], alongAxis: 1, 1..<4) },
              reference: { x in Tensor(shape: [3, 3], scalars: (0..<3).flatMap { i in (1..<4).map { x[0][i, $0] } }) }),
    ]

    static let products: [OperationSpec] = [
        .init(name: "matmul", inputShapes: [[3, 4], [4, 2]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { naiveMatrixProduct($0[0], $0[1]) }),
        .init(name: "matmul(transposeLHS, transposeRHS)", inputShapes: [[4, 3], [2, 4]], domain: .any,
              double: { DOps.matmul($0[0], $0[1], transposeLHS: true, transposeRHS: true) },
              float: { FOps.matmul($0[0], $0[1], transposeLHS: true, transposeRHS: true) },
              reference: { naiveMatrixProduct($0[0].transposed(), $0[1].transposed()) }),
        .init(name: "matmul(batched × shared)", inputShapes: [[2, 3, 4], [4, 2]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { x in
                  Tensor(concatenating: x[0].split(count: 2).map { naiveMatrixProduct($0.reshaped(to: [3, 4]), x[1]).unsqueezed(axis: 0) })
              }),
        .init(name: "matmul(batched, transposeLHS)", inputShapes: [[2, 4, 3], [2, 4, 2]], domain: .any,
              double: { DOps.matmul($0[0], $0[1], transposeLHS: true) },
              float: { FOps.matmul($0[0], $0[1], transposeLHS: true) },
              reference: { x in
                  Tensor(concatenating: (0..<2).map { b in
                      naiveMatrixProduct(
                          x[0].slice(alongAxis: 0, b..<(b + 1)).reshaped(to: [4, 3]).transposed(),
                          x[1].slice(alongAxis: 0, b..<(b + 1)).reshaped(to: [4, 2])).unsqueezed(axis: 0)
                  })
              }),
    ]

    static let scalingAndSelection: [OperationSpec] = [
        .init(name: "reciprocal", inputShapes: [[3, 4]], domain: .positive,
              double: { DOps.reciprocal($0[0]) }, float: { FOps.reciprocal($0[0]) }, reference: elementwiseReference { 1 / $0 }),
        .init(name: "scale", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.scale($0[0], by: -1.5) }, float: { FOps.scale($0[0], by: -1.5) }, reference: elementwiseReference { -1.5 * $0 }),
        .init(name: "shift", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.shift($0[0], by: 0.25) }, float: { FOps.shift($0[0], by: 0.25) }, reference: elementwiseReference { $0 + 0.25 }),
        .init(name: "guardedMultiply", inputShapes: [[3, 4], [4]], domain: .awayFromZero,
              double: { DOps.guardedMultiply($0[0], $0[1]) }, float: { FOps.guardedMultiply($0[0], $0[1]) }, reference: binaryReference(*)),
        .init(name: "broadcast", inputShapes: [[3, 1]], domain: .any,
              double: { DOps.broadcast($0[0], toShape: [2, 3, 4]) }, float: { FOps.broadcast($0[0], toShape: [2, 3, 4]) },
              reference: { x in naiveBroadcastMiddle(x[0]) }),
        .init(name: "reduce(toShape:)", inputShapes: [[2, 3, 4]], domain: .any,
              double: { DOps.reduce($0[0], toShape: [3, 1]) }, float: { FOps.reduce($0[0], toShape: [3, 1]) },
              reference: { x in naiveSumToMiddle(x[0]) }),
        .init(name: "select", inputShapes: [[3, 4], [3, 4]], domain: .any,
              double: { DOps.select(selectionMask(), $0[0], $0[1]) },
              float: { FOps.select(converted(selectionMask()), $0[0], $0[1]) },
              reference: { x in Tensor(shape: [3, 4], scalars: (0..<12).map { selectionMask().scalars[$0] != 0 ? x[0].scalars[$0] : x[1].scalars[$0] }) }),
    ]

    /// Every row of the table.
    static let all: [OperationSpec] =
        core + normalization + convolution + conveniences + moreElementwise + batchedProducts + activations + fused
}

/// [3, 1] repeated to [2, 3, 4], by index arithmetic.
func naiveBroadcastMiddle(_ x: Tensor<Double>) -> Tensor<Double> {
    let values = x.scalars
    var out: [Double] = []
    for index in 0..<24 { out.append(values[(index / 4) % 3]) }
    return Tensor(shape: [2, 3, 4], scalars: out)
}

/// [2, 3, 4] summed to [3, 1], by index arithmetic.
func naiveSumToMiddle(_ x: Tensor<Double>) -> Tensor<Double> {
    let values = x.scalars
    var out = [Double](repeating: 0, count: 3)
    for index in 0..<24 { out[(index / 4) % 3] += values[index] }
    return Tensor(shape: [3, 1], scalars: out)
}

/// A fixed 0/1 mask with both values present.
func dropoutMask() -> Tensor<Double> {
    Tensor(shape: [3, 4], scalars: [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1])
}

func selectionMask() -> Tensor<Double> {
    Tensor(shape: [3, 4], scalars: [1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0])
}

@Suite struct OperationSpecTests {
    @Test(arguments: OperationSpec.all)
    func forwardMatchesReference(_ spec: OperationSpec) {
        let inputs = spec.inputs()
        let value = spec.double(inputs.map { DOps.constant($0) }).value
        expectClose(value, spec.reference(inputs), rtol: 1e-10, atol: 1e-12)
    }

    @Test(arguments: OperationSpec.all)
    func firstOrderMatchesFiniteDifferences(_ spec: OperationSpec) {
        let report = GradientCheck.check(
            spec.double, at: spec.inputs(), atol: spec.firstOrderTolerance.atol,
            rtol: spec.firstOrderTolerance.rtol)
        #expect(report.passed, "\(spec.name): \(report)")
    }

    @Test(arguments: OperationSpec.all)
    func secondOrderMatchesFiniteDifferences(_ spec: OperationSpec) throws {
        try #require(spec.secondOrderSkipReason == nil, "\(spec.name): \(spec.secondOrderSkipReason ?? "")")
        let report = GradientCheck.checkSecondOrder(spec.double, at: spec.inputs())
        #expect(report.passed, "\(spec.name): \(report)")
    }

    /// The `Float` op agrees with the `Double` one, forward and backward, to float tolerance.
    @Test(arguments: OperationSpec.all)
    func floatAgreesWithDouble(_ spec: OperationSpec) {
        let inputs = spec.inputs()
        let doubleInputs = inputs.map { DOps.variable($0) }
        let floatInputs = inputs.map { FOps.variable(converted($0, to: Float.self)) }
        let doubleOutput = withoutRecording { spec.double(doubleInputs) }
        var generator = SeededGenerator(seed: 99)
        let upstream = Tensor<Double>.randomUniform(shape: doubleOutput.shape, in: -1..<1, using: &generator)
        let doubleGradients = GradientCheck.gradients(of: spec.double, at: doubleInputs, upstream: upstream)
        let floatGradients = GradientCheck.gradients(
            of: spec.float, at: floatInputs, upstream: converted(upstream, to: Float.self))
        let floatOutput = withoutRecording { spec.float(floatInputs) }
        expectClose(floatOutput.value, converted(doubleOutput.value, to: Float.self), rtol: 2e-3, atol: 2e-4)
        for (f, d) in zip(floatGradients, doubleGradients) {
            expectClose(f.value, converted(d.value, to: Float.self), rtol: 2e-3, atol: 2e-4)
        }
        let directional = GradientCheck.checkDirectional(spec.float, at: inputs.map { converted($0, to: Float.self) })
        #expect(directional.passed, "\(spec.name): \(directional)")
    }

    @Test func tableEndsWithNoSkippedSecondOrder() {
        let skipped = OperationSpec.all.filter { $0.secondOrderSkipReason != nil }.map(\.name)
        #expect(skipped.isEmpty, "rows without a second-order check: \(skipped)")
    }
}
