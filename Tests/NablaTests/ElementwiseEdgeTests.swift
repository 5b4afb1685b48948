import Foundation
import Testing

@testable import Nabla

// Elementwise ops at the edges of their domains: C's `pow` special cases, NaN inputs, infinities.

/// Whether two scalars are the same value: equal with the same sign (so −0 ≠ +0), or both NaN.
func isSameValue<Scalar: BinaryFloatingPoint>(_ a: Scalar, _ b: Scalar) -> Bool {
    (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign)
}

/// The value and the gradient of `op` at `x`, with `upstream` as the seed.
func valueAndGradient(
    _ op: (Variable<Double>) -> Variable<Double>, at x: Tensor<Double>, upstream: Tensor<Double>
) -> (value: [Double], gradient: [Double]) {
    let v = Ops.variable(x, requiresGradient: true)
    let tape = GradientTape<Double>()
    let y = tape.record { op(v) }
    return (y.value.scalars, tape.gradient(of: y, withRespectTo: [v], seed: upstream)[0].value.scalars)
}

/// `pow` agrees with the C library's on its special cases.
@Suite struct PowEdgeTests {
    static let bases: [Double] = [-.infinity, -2.5, -2, -1, -0.5, -0.0, 0, 0.5, 1, 2, .infinity, .nan]
    static let exponents: [Double] = [
        -.infinity, -3, -2, -1.5, -1, -0.5, -0.0, 0, 0.5, 1, 2, 2.5, 3,
        1e20, -1e20, 9_007_199_254_740_991, .infinity, .nan,
    ]

    @Test func tensorPowerMatchesC() {
        let x = Tensor(shape: [Self.bases.count, 1], scalars: Self.bases)
        let y = Tensor(Self.exponents)
        let result = pow(x, y).scalars
        for (i, base) in Self.bases.enumerated() {
            for (j, exponent) in Self.exponents.enumerated() {
                let actual = result[i * Self.exponents.count + j], expected = Foundation.pow(base, exponent)
                #expect(isSameValue(actual, expected), "pow(\(base), \(exponent)) = \(actual), C gives \(expected)")
            }
        }
    }

    @Test(arguments: exponents)
    func scalarExponentMatchesC(_ exponent: Double) {
        let result = pow(Tensor(Self.bases), exponent).scalars
        for (base, actual) in zip(Self.bases, result) {
            let expected = Foundation.pow(base, exponent)
            #expect(isSameValue(actual, expected), "pow(\(base), \(exponent)) = \(actual), C gives \(expected)")
        }
    }

    @Test func floatMatchesC() {
        let bases = Self.bases.map { Float($0) }, exponents = Self.exponents.map { Float($0) }
        let result = pow(Tensor(shape: [bases.count, 1], scalars: bases), Tensor(exponents)).scalars
        for (i, base) in bases.enumerated() {
            for (j, exponent) in exponents.enumerated() {
                let actual = result[i * exponents.count + j], expected = powf(base, exponent)
                #expect(isSameValue(actual, expected), "pow(\(base), \(exponent)) = \(actual), C gives \(expected)")
            }
        }
    }

    /// NumPy's example: `np.power([-2, 0], [2, 0])` is `[4, 1]`.
    @Test func negativeBaseAndZeroToTheZero() {
        #expect(pow(Tensor<Double>([-2, 0]), Tensor([2, 0])).scalars == [4, 1])
    }
}

/// Backward rules keep a NaN input NaN, and keep their deliberate choices at 0.
@Suite struct NaNGradientTests {
    @Test func sqrtOfNegativeHasNaNGradient() {
        let (value, gradient) = valueAndGradient({ Ops.sqrt($0) }, at: Tensor([-1, 4]), upstream: Tensor([1, 1]))
        #expect(value[0].isNaN && value[1] == 2)
        #expect(gradient[0].isNaN && gradient[1] == 0.25)
    }

    @Test func sqrtAndFractionalPowerHaveZeroGradientAtZero() {
        let upstream = Tensor<Double>([1, 1])
        #expect(valueAndGradient({ Ops.sqrt($0) }, at: Tensor([0, 4]), upstream: upstream).gradient == [0, 0.25])
        #expect(valueAndGradient({ Ops.pow($0, 0.5) }, at: Tensor([0, 4]), upstream: upstream).gradient == [0, 0.25])
        let cubeRoot = valueAndGradient({ Ops.pow($0, 1.0 / 3) }, at: Tensor([0, 8]), upstream: upstream).gradient
        #expect(cubeRoot[0] == 0)
        #expect(Swift.abs(cubeRoot[1] - 1.0 / 12) < 1e-15)
    }

    /// Every unary op: a NaN element gives a NaN output and, with a nonzero upstream, a NaN
    /// gradient there; a zero upstream there gives a zero gradient; other elements are unaffected.
    @Test(arguments: UnaryOperation.all)
    func nanInputGivesNaNOutputAndGradient(_ op: UnaryOperation) {
        let clean = Tensor<Double>([-0.5, 0.75, 1.5, 0.25])
        let dirty = Tensor<Double>([-0.5, .nan, 1.5, 0.25])
        let upstream = Tensor<Double>([0.7, -1.3, 0.9, 2])
        let expected = valueAndGradient(op.apply, at: clean, upstream: upstream)
        let actual = valueAndGradient(op.apply, at: dirty, upstream: upstream)
        #expect(actual.value[1].isNaN, "output \(actual.value[1]) at NaN")
        #expect(actual.gradient[1].isNaN, "gradient \(actual.gradient[1]) at NaN")
        for i in [0, 2, 3] {
            #expect(isSameValue(actual.value[i], expected.value[i]), "output at \(i)")
            #expect(isSameValue(actual.gradient[i], expected.gradient[i]), "gradient at \(i)")
        }
        let zeroAtNaN = valueAndGradient(op.apply, at: dirty, upstream: Tensor([0.7, 0, 0.9, 2]))
        #expect(zeroAtNaN.gradient[1] == 0, "zero upstream gave \(zeroAtNaN.gradient[1]) at NaN")
    }
}

/// A unary op on variables, named for test output. (Affine ops such as negate and scale are left
/// out: their derivative is a constant, defined at NaN too.)
struct UnaryOperation: Sendable, CustomTestStringConvertible {
    let name: String
    let apply: @Sendable (Variable<Double>) -> Variable<Double>
    var testDescription: String { name }

    init(_ name: String, _ apply: @escaping @Sendable (Variable<Double>) -> Variable<Double>) {
        (self.name, self.apply) = (name, apply)
    }

    static let all: [UnaryOperation] = [
        .init("exp") { Ops.exp($0) },
        .init("log") { Ops.log($0) },
        .init("reciprocal") { Ops.reciprocal($0) },
        .init("sqrt") { Ops.sqrt($0) },
        .init("square") { Ops.square($0) },
        .init("pow(x, 2.5)") { Ops.pow($0, 2.5) },
        .init("pow(x, 0.5)") { Ops.pow($0, 0.5) },
        .init("pow(x, 3)") { Ops.pow($0, 3) },
        .init("abs") { Ops.abs($0) },
        .init("tanh") { Ops.tanh($0) },
        .init("sigmoid") { Ops.sigmoid($0) },
        .init("relu") { Ops.relu($0) },
        .init("leakyRelu") { Ops.leakyRelu($0, slope: 0.2) },
        .init("clamp") { Ops.clamp($0, to: -0.25...1) },
    ]
}
