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

    /// Every base against every exponent, by broadcasting a column against a row.
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
        .init("gelu") { Ops.gelu($0) },
        .init("gelu(approximate: .tanh)") { Ops.gelu($0, approximate: .tanh) },
        .init("erf") { Ops.erf($0) },
        .init("softplus") { Ops.softplus($0) },
        .init("log1p") { Ops.log1p($0) },
        .init("expm1") { Ops.expm1($0) },
        .init("sin") { Ops.sin($0) },
        .init("cos") { Ops.cos($0) },
    ]
}

/// The `order`-th derivative of an elementwise `f` at every element, by nested tapes.
func derivative(
    _ order: Int, of f: @escaping (Variable<Double>) -> Variable<Double>, at x: Tensor<Double>
) -> [Double] {
    var g = f
    for _ in 0..<order {
        let inner = g
        g = { x in
            let tape = GradientTape<Double>()
            tape.watch(x)
            let y = tape.record { inner(x) }
            return tape.gradient(of: y, withRespectTo: [x], seed: .ones(shape: y.shape))[0]
        }
    }
    return g(Ops.constant(x)).value.scalars
}

/// Whether `actual` is within `rtol · scale` of `expected`; `scale` is the size of the terms
/// that `expected` sums, so that cancellation between them does not demand more than they hold.
/// (The 1e-300 allows for results in the subnormal range.)
func isClose(_ actual: Double, _ expected: Double, scale: Double, rtol: Double = 1e-12) -> Bool {
    Swift.abs(actual - expected) <= rtol * scale + 1e-300
}

/// The standard normal distribution function and density, from the C library.
func normalCDF(_ x: Double) -> Double { 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }
func normalDensity(_ x: Double) -> Double { Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }

/// GELU against its definitions computed with the C library's `erfc`, `tanh` and `cosh`.
@Suite struct GELUTests {
    static let points: [Double] = [
        -1e10, -1e3, -40, -37, -30, -20, -10, -5, -3, -2, -1, -0.5, -1e-3, 0,
        1e-3, 0.5, 1, 2, 3, 5, 10, 20, 40, 1e3, 1e10, 1e200,
    ]
    static let c = (2 / Double.pi).squareRoot(), a = 0.044715

    static func inner(_ x: Double) -> Double { c * (x + a * x * x * x) }
    /// ½(1 + tanh(u)) as 1 / (1 + e^(−2u)), accurate also where tanh(u) is near −1.
    static func halfOnePlusTanh(_ u: Double) -> Double { 1 / (1 + Foundation.exp(-2 * u)) }

    @Test func exactForwardMatchesErfc() {
        let x = Tensor(Self.points)
        for (x, y, z) in zip3(Self.points, gelu(x).scalars, Ops.gelu(Ops.constant(x)).value.scalars) {
            let expected = x * normalCDF(x)
            #expect(isClose(y, expected, scale: Swift.abs(expected)), "gelu(\(x)) = \(y), expected \(expected)")
            #expect(y == z)
        }
    }

    /// The definition 0.5·x·(1 + tanh(u)) as written, where 1 + tanh(u) keeps 1e-12 relative
    /// accuracy (|x| ≤ 3), and as x / (1 + e^(−2u)) everywhere.
    @Test func tanhFormForwardMatchesDefinition() {
        let x = Tensor(Self.points)
        let values = gelu(x, approximate: .tanh).scalars
        #expect(values == Ops.gelu(Ops.constant(x), approximate: .tanh).value.scalars)
        for (x, y) in zip(Self.points, values) {
            let expected = x * Self.halfOnePlusTanh(Self.inner(x))
            #expect(isClose(y, expected, scale: Swift.abs(expected)), "gelu(\(x)) = \(y), expected \(expected)")
            guard Swift.abs(x) <= 3 else { continue }
            let asWritten = 0.5 * x * (1 + Foundation.tanh(Self.inner(x)))
            #expect(isClose(y, asWritten, scale: Swift.abs(asWritten)), "gelu(\(x)) = \(y), expected \(asWritten)")
        }
    }

    /// First derivative Φ(x) + x·φ(x), second φ(x)(2 − x²), third x·φ(x)(x² − 4).
    @Test func exactDerivativesMatchClosedForms() {
        let x = Tensor(Self.points)
        let f: (Variable<Double>) -> Variable<Double> = { Ops.gelu($0) }
        let (first, second, third) = (derivative(1, of: f, at: x), derivative(2, of: f, at: x),
                                      derivative(3, of: f, at: x))
        for (i, x) in Self.points.enumerated() {
            let (cdf, density) = (normalCDF(x), normalDensity(x))
            let xDensity = density == 0 ? 0 : x * density
            #expect(isClose(first[i], cdf + xDensity, scale: Swift.abs(cdf) + Swift.abs(xDensity)),
                    "gelu′(\(x)) = \(first[i])")
            let expectedSecond = density == 0 ? 0 : density * (2 - x * x)
            #expect(isClose(second[i], expectedSecond, scale: Swift.abs(expectedSecond)),
                    "gelu″(\(x)) = \(second[i])")
            let expectedThird = density == 0 ? 0 : xDensity * (x * x - 4)
            let thirdScale = density == 0 ? 0 : Swift.abs(xDensity) * (x * x + 4)
            #expect(isClose(third[i], expectedThird, scale: thirdScale), "gelu‴(\(x)) = \(third[i])")
        }
    }

    /// With u = √(2/π)(x + 0.044715x³), t = tanh(u) and sech²(u) = 1/cosh²(u):
    /// gelu′ = ½(1 + t) + ½x·sech²(u)·u′ and gelu″ = sech²(u)·(u′ + ½x(u″ − 2t·u′²)).
    @Test func tanhFormDerivativesMatchClosedForms() {
        let f: (Variable<Double>) -> Variable<Double> = { Ops.gelu($0, approximate: .tanh) }
        let x = Tensor(Self.points)
        let (first, second) = (derivative(1, of: f, at: x), derivative(2, of: f, at: x))
        for (i, x) in Self.points.enumerated() {
            let u = Self.inner(x), t = Foundation.tanh(u)
            let sechSquared = 1 / (Foundation.cosh(u) * Foundation.cosh(u))
            let du = Self.c * (1 + 3 * Self.a * x * x), ddu = Self.c * 6 * Self.a * x
            let half = Self.halfOnePlusTanh(u)
            let slope = sechSquared == 0 ? 0 : 0.5 * x * sechSquared * du
            #expect(isClose(first[i], half + slope, scale: half + Swift.abs(slope)), "gelu′(\(x)) = \(first[i])")
            let expected = sechSquared == 0 ? 0 : sechSquared * (du + 0.5 * x * (ddu - 2 * t * du * du))
            let scale = sechSquared * (du + 0.5 * Swift.abs(x) * (Swift.abs(ddu) + 2 * du * du))
            #expect(isClose(second[i], expected, scale: sechSquared == 0 ? 0 : scale),
                    "gelu″(\(x)) = \(second[i]), expected \(expected)")
        }
    }

    /// The third derivative of the tanh form against central differences of the second.
    @Test func tanhFormThirdDerivativeMatchesDifferences() {
        let points: [Double] = [-4, -2, -1, -0.3, 0, 0.3, 1, 2, 4]
        let f: (Variable<Double>) -> Variable<Double> = { Ops.gelu($0, approximate: .tanh) }
        let third = derivative(3, of: f, at: Tensor(points))
        let h = 1e-5
        let plus = derivative(2, of: f, at: Tensor(points.map { $0 + h }))
        let minus = derivative(2, of: f, at: Tensor(points.map { $0 - h }))
        for (i, x) in points.enumerated() {
            let numeric = (plus[i] - minus[i]) / (2 * h)
            #expect(isClose(third[i], numeric, scale: Swift.abs(numeric) + 1e-3, rtol: 1e-6),
                    "gelu‴(\(x)) = \(third[i]) vs \(numeric)")
        }
    }

    /// gelu(+∞) = +∞ with gradient 1 and gelu(−∞) = 0 with gradient 0; no derivative is NaN.
    @Test(arguments: [GELUApproximation.none, .tanh])
    func limitsAtInfinity(_ approximate: GELUApproximation) {
        let x = Tensor<Double>([.infinity, -.infinity])
        let f: (Variable<Double>) -> Variable<Double> = { Ops.gelu($0, approximate: approximate) }
        #expect(gelu(x, approximate: approximate).scalars == [.infinity, 0])
        #expect(derivative(0, of: f, at: x) == [.infinity, 0])
        #expect(derivative(1, of: f, at: x) == [1, 0])
        #expect(derivative(2, of: f, at: x) == [0, 0])
        #expect(derivative(3, of: f, at: x) == [0, 0])
    }

    /// In `Float`, where x³ overflows already at |x| ≈ 7e12.
    @Test(arguments: [GELUApproximation.none, .tanh])
    func floatLimits(_ approximate: GELUApproximation) {
        let x = FOps.variable(Tensor<Float>([.infinity, -.infinity, 1e13, -1e13]), requiresGradient: true)
        let tape = GradientTape<Float>()
        let y = tape.record { FOps.gelu(x, approximate: approximate) }
        let gradient = tape.gradient(of: y, withRespectTo: [x], seed: .ones(shape: [4]))[0]
        #expect(y.value.scalars == [.infinity, 0, 1e13, 0])
        #expect(gradient.value.scalars == [1, 0, 1, 0])
    }
}

/// Three sequences in step.
func zip3<A: Sequence, B: Sequence, C: Sequence>(
    _ a: A, _ b: B, _ c: C
) -> [(A.Element, B.Element, C.Element)] {
    zip(zip(a, b), c).map { ($0.0, $0.1, $1) }
}

/// erf and erfc against the C library's.
@Suite struct ErrorFunctionTests {
    static let points: [Double] = [
        -.infinity, -30, -5, -2, -1, -0.3, -1e-8, 0, 1e-8, 0.3, 1, 2, 5, 30, .infinity,
    ]

    @Test func tensorFunctionsMatchC() {
        let x = Tensor(Self.points + [.nan])
        let (erfValues, erfcValues) = (erf(x).scalars, erfc(x).scalars)
        for (i, x) in (Self.points + [.nan]).enumerated() {
            #expect(isSameValue(erfValues[i], Foundation.erf(x)), "erf(\(x))")
            #expect(isSameValue(erfcValues[i], Foundation.erfc(x)), "erfc(\(x))")
        }
        #expect(erf(Tensor<Float>([0.5])).scalars == [Foundation.erff(0.5)])
    }

    /// erf′(x) = 2/√π · e^(−x²) and erf″(x) = −2x · erf′(x).
    @Test func derivativesMatchClosedForms() {
        let x = Tensor(Self.points)
        let f: (Variable<Double>) -> Variable<Double> = { Ops.erf($0) }
        let (first, second) = (derivative(1, of: f, at: x), derivative(2, of: f, at: x))
        for (i, x) in Self.points.enumerated() {
            let slope = 2 / Double.pi.squareRoot() * Foundation.exp(-x * x)
            #expect(isClose(first[i], slope, scale: slope), "erf′(\(x)) = \(first[i])")
            let curvature = slope == 0 ? 0 : -2 * x * slope
            #expect(isClose(second[i], curvature, scale: Swift.abs(curvature)), "erf″(\(x)) = \(second[i])")
        }
    }
}

/// softplus, log1p and expm1 at large and infinite inputs.
@Suite struct SmoothFunctionEdgeTests {
    @Test func softplusIsStableAndHasSigmoidGradient() {
        let x = Tensor<Double>([-.infinity, -50, 0, 50, .infinity])
        let (value, gradient) = valueAndGradient({ Ops.softplus($0) }, at: x, upstream: .ones(shape: [5]))
        #expect(value == [0, Foundation.exp(-50), Foundation.log(2), 50, .infinity])
        #expect(gradient[0] == 0 && gradient[2] == 0.5 && gradient[3] == 1 && gradient[4] == 1)
        #expect(isClose(gradient[1], Foundation.exp(-50), scale: Foundation.exp(-50)))
    }

    @Test func log1pAndExpm1AreAccurateNearZero() {
        let x = Tensor<Double>([1e-10, -1e-10])
        let upstream = Tensor<Double>.ones(shape: [2])
        let log1pResult = valueAndGradient({ Ops.log1p($0) }, at: x, upstream: upstream)
        let expm1Result = valueAndGradient({ Ops.expm1($0) }, at: x, upstream: upstream)
        #expect(log1pResult.value == [Foundation.log1p(1e-10), Foundation.log1p(-1e-10)])
        #expect(expm1Result.value == [Foundation.expm1(1e-10), Foundation.expm1(-1e-10)])
        let expectedLog1pGradient: [Double] = [1 / (1 + 1e-10), 1 / (1 - 1e-10)]
        #expect(log1pResult.gradient == expectedLog1pGradient)
        #expect(expm1Result.gradient == [Foundation.exp(1e-10), Foundation.exp(-1e-10)])
    }
}

/// The elementwise maximum and minimum, and the max and min reductions: ties and NaN.
@Suite struct ExtremumGradientTests {
    /// The gradients of `⟨op(lhs, rhs), upstream⟩` with respect to both inputs.
    func gradients(
        _ op: (Variable<Double>, Variable<Double>) -> Variable<Double>,
        _ lhs: Tensor<Double>, _ rhs: Tensor<Double>, upstream: Tensor<Double>
    ) -> (value: [Double], lhs: [Double], rhs: [Double]) {
        let (a, b) = (Ops.variable(lhs, requiresGradient: true), Ops.variable(rhs, requiresGradient: true))
        let tape = GradientTape<Double>()
        let y = tape.record { op(a, b) }
        let g = tape.gradient(of: y, withRespectTo: [a, b], seed: upstream)
        return (y.value.scalars, g[0].value.scalars, g[1].value.scalars)
    }

    @Test func maximumAndMinimumSplitTiesInHalf() {
        let (lhs, rhs) = (Tensor<Double>([1, 2, 3]), Tensor<Double>([1, 5, 0]))
        let upstream = Tensor<Double>([2, 3, 4])
        let maximum = gradients({ Ops.maximum($0, $1) }, lhs, rhs, upstream: upstream)
        #expect(maximum.value == [1, 5, 3] && maximum.lhs == [1, 0, 4] && maximum.rhs == [1, 3, 0])
        let minimum = gradients({ Ops.minimum($0, $1) }, lhs, rhs, upstream: upstream)
        #expect(minimum.value == [1, 2, 0] && minimum.lhs == [1, 3, 0] && minimum.rhs == [1, 0, 4])
    }

    @Test func maximumBroadcastsAndSumsTheGradientBack() {
        let lhs = Tensor<Double>(shape: [2, 3], scalars: [1, 5, 3, 4, 0, 6])
        let result = gradients({ Ops.maximum($0, $1) }, lhs, Tensor([2, 2, 3]), upstream: .ones(shape: [2, 3]))
        #expect(result.value == [2, 5, 3, 4, 2, 6])
        #expect(result.lhs == [0, 1, 0.5, 1, 0, 1])
        #expect(result.rhs == [1, 1, 0.5])
    }

    @Test(arguments: ["maximum", "minimum"])
    func nanInEitherGivesNaNToBoth(_ name: String) {
        let op: (Variable<Double>, Variable<Double>) -> Variable<Double> =
            name == "maximum" ? { Ops.maximum($0, $1) } : { Ops.minimum($0, $1) }
        let (lhs, rhs) = (Tensor<Double>([.nan, 1, 2, .nan]), Tensor<Double>([0, .nan, 2, 3]))
        let result = gradients(op, lhs, rhs, upstream: Tensor([1, 1, 1, 0]))
        #expect(result.value[0].isNaN && result.value[1].isNaN && result.value[2] == 2 && result.value[3].isNaN)
        #expect(result.lhs[0].isNaN && result.lhs[1].isNaN && result.lhs[2] == 0.5 && result.lhs[3] == 0)
        #expect(result.rhs[0].isNaN && result.rhs[1].isNaN && result.rhs[2] == 0.5 && result.rhs[3] == 0)
    }

    @Test(arguments: ["max", "min"])
    func reductionSharesTiesAndKeepsNaN(_ name: String) {
        let op: (Variable<Double>) -> Variable<Double> = name == "max"
            ? { Ops.max($0, alongAxes: [1]) } : { Ops.min($0, alongAxes: [1]) }
        let tie: Double = name == "max" ? 5 : -5
        let x = Tensor<Double>(shape: [3, 3], scalars: [tie, 1, tie, .nan, 1, 2, 0, tie, 1])
        let (value, gradient) = valueAndGradient(op, at: x, upstream: Tensor([2, 3, 4]))
        #expect(value[0] == tie && value[1].isNaN && value[2] == tie)
        #expect(gradient[0] == 1 && gradient[1] == 0 && gradient[2] == 1)
        #expect(gradient[3].isNaN && gradient[4] == 0 && gradient[5] == 0)
        #expect(Array(gradient[6...]) == [0, 4, 0])
    }
}
