/// Checks analytic gradients from a ``GradientTape`` against numerical ones.
///
/// A function under test maps input variables to one output variable of any shape; it is
/// evaluated on constants outside any tape, so it may use tapes itself. Checks use a
/// random upstream gradient `c` (never `sum(y)`, which hides normalization bugs) and differentiate
/// `⟨f(x), c⟩`.
public enum GradientCheck {
    /// The function under test: inputs in, one output out, built from ``TensorOperations``.
    public typealias Function<Scalar: TensorScalar> = ([Variable<Scalar>]) -> Variable<Scalar>

    /// The outcome of a check: the worst disagreement and where it is.
    public struct Report<Scalar: TensorScalar>: Sendable, CustomStringConvertible {
        /// Whether every compared value is within `atol + rtol · |numeric|`, gradients have their
        /// inputs' shapes, and a zero upstream gradient gives zero gradients.
        public var passed: Bool
        public var maxAbsoluteError: Scalar = 0
        public var maxRelativeError: Scalar = 0
        /// The input and the element (row-major) of the worst disagreement.
        public var worstInput = 0, worstIndex = 0
        public var analytic: Scalar = 0, numeric: Scalar = 0
        /// Problems other than a numerical mismatch, such as a wrong gradient shape.
        public var failures: [String] = []

        public var description: String {
            "\(passed ? "passed" : "FAILED"): max abs error \(maxAbsoluteError), max rel error "
                + "\(maxRelativeError); worst at input \(worstInput) element \(worstIndex): "
                + "analytic \(analytic) vs numeric \(numeric)"
                + (failures.isEmpty ? "" : "; " + failures.joined(separator: "; "))
        }

        mutating func compare(_ analytic: Scalar, _ numeric: Scalar, input: Int, index: Int, atol: Scalar, rtol: Scalar) {
            let error = Swift.abs(analytic - numeric)
            let relative = error / Swift.max(Swift.abs(numeric), Scalar.leastNormalMagnitude)
            if !(error <= atol + rtol * Swift.abs(numeric)) { passed = false }
            if error > maxAbsoluteError || error.isNaN {
                (maxAbsoluteError, worstInput, worstIndex) = (error, input, index)
                (self.analytic, self.numeric) = (analytic, numeric)
            }
            if relative > maxRelativeError && error > atol { maxRelativeError = relative }
        }
    }

    /// The gradients of `⟨f(inputs), upstream⟩` with respect to every input; an input that `f`
    /// does not depend on gets zeros, as its numerical gradient does.
    public static func gradients<Scalar>(
        of f: Function<Scalar>, at inputs: [Variable<Scalar>], upstream: Tensor<Scalar>
    ) -> [Variable<Scalar>] {
        let tape = GradientTape<Scalar>()
        tape.watch(inputs)
        let y = tape.record { f(inputs) }
        return tape.gradient(of: y, withRespectTo: inputs, seed: upstream, unconnected: .zero)
    }

    /// Central differences in `Double` with PyTorch's defaults, element by element.
    ///
    /// Also checks that gradients have their inputs' shapes and that a zero upstream gradient
    /// gives zero gradients.
    public static func check(
        _ f: Function<Double>, at inputs: [Tensor<Double>],
        epsilon: Double = 1e-6, atol: Double = 1e-5, rtol: Double = 1e-3, seed: UInt64 = 0
    ) -> Report<Double> {
        let variables = inputs.map { TensorOperations.variable($0) }
        let (upstream, _) = randomProbe(f, at: inputs, seed: seed)
        let analytic = gradients(of: f, at: variables, upstream: upstream)
        var report = Report<Double>(passed: true)
        checkShapesAndZeroUpstream(f, variables, analytic, &report)
        func objective(_ values: [Tensor<Double>]) -> Double {
            let y = f(values.map { TensorOperations.constant($0) }).value
            return (y * upstream).sum().scalar
        }
        for (inputIndex, input) in inputs.enumerated() {
            let gradient = analytic[inputIndex].value.scalars
            for element in 0..<input.scalarCount {
                var values = inputs
                values[inputIndex].withUnsafeMutableBufferPointer { $0[element] += epsilon }
                let plus = objective(values)
                values[inputIndex].withUnsafeMutableBufferPointer { $0[element] -= 2 * epsilon }
                let minus = objective(values)
                report.compare(
                    gradient[element], (plus - minus) / (2 * epsilon), input: inputIndex,
                    index: element, atol: atol, rtol: rtol)
            }
        }
        return report
    }

    /// The random-direction check `⟨J·t, c⟩ = ⟨t, Jᵀ·c⟩` for any scalar type: the directional
    /// derivative along a random `t` by central differences, against the analytic gradient.
    /// Use float32 tolerances for `Float`.
    public static func checkDirectional<Scalar>(
        _ f: Function<Scalar>, at inputs: [Tensor<Scalar>],
        epsilon: Scalar = 1e-3, atol: Scalar = 2e-3, rtol: Scalar = 2e-3, seed: UInt64 = 0
    ) -> Report<Scalar> {
        let variables = inputs.map { TensorOperations.variable($0) }
        let (upstream, directions) = randomProbe(f, at: inputs, seed: seed)
        let analytic = gradients(of: f, at: variables, upstream: upstream)
        var report = Report<Scalar>(passed: true)
        checkShapesAndZeroUpstream(f, variables, analytic, &report)
        let projected = zip(analytic, directions).map { ($0.value * $1).sum().scalar }.reduce(0, +)
        func objective(_ step: Scalar) -> Scalar {
            let moved = zip(inputs, directions).map { TensorOperations.constant($0 + $1 * step) }
            return (f(moved).value * upstream).sum().scalar
        }
        let numeric = (objective(epsilon) - objective(-epsilon)) / (2 * epsilon)
        report.compare(projected, numeric, input: 0, index: 0, atol: atol, rtol: rtol)
        return report
    }

    /// Checks second derivatives: the gradient of `h(x) = ⟨∇ₓ⟨f(x), c⟩, v⟩`, taken through the
    /// backward pass with nested tapes, against central differences of `h` itself.
    public static func checkSecondOrder(
        _ f: Function<Double>, at inputs: [Tensor<Double>],
        epsilon: Double = 1e-6, atol: Double = 1e-5, rtol: Double = 1e-3, seed: UInt64 = 0
    ) -> Report<Double> {
        let (upstream, directions) = randomProbe(f, at: inputs, seed: seed)
        // h(x) = Σᵢ ⟨∂⟨f, c⟩/∂xᵢ, vᵢ⟩, built from the first-order backward.
        let h: Function<Double> = { x in
            let first = gradients(of: f, at: x, upstream: upstream)
            return zip(first, directions)
                .map { TensorOperations.sum($0 * TensorOperations.constant($1)) }
                .reduce(TensorOperations.constant(Tensor(0)), +)
        }
        return check(h, at: inputs, epsilon: epsilon, atol: atol, rtol: rtol, seed: seed &+ 1)
    }

    /// A random upstream gradient `c` for `f`'s output and a random direction `t` per input.
    private static func randomProbe<Scalar>(
        _ f: Function<Scalar>, at inputs: [Tensor<Scalar>], seed: UInt64
    ) -> (upstream: Tensor<Scalar>, directions: [Tensor<Scalar>]) {
        var generator = SeededGenerator(seed: seed)
        let outputShape = f(inputs.map { TensorOperations.constant($0) }).shape
        let upstream = Tensor<Scalar>.randomUniform(shape: outputShape, in: -1..<1, using: &generator)
        let directions = inputs.map {
            Tensor<Scalar>.randomUniform(shape: $0.shape, in: -1..<1, using: &generator)
        }
        return (upstream, directions)
    }

    private static func checkShapesAndZeroUpstream<Scalar>(
        _ f: Function<Scalar>, _ inputs: [Variable<Scalar>], _ analytic: [Variable<Scalar>],
        _ report: inout Report<Scalar>
    ) {
        for (index, (input, gradient)) in zip(inputs, analytic).enumerated() where input.shape != gradient.shape {
            report.passed = false
            report.failures.append("gradient \(index) has shape \(gradient.shape), input \(input.shape)")
        }
        let outputShape = f(inputs).shape
        let zero = gradients(of: f, at: inputs, upstream: .zeros(shape: outputShape))
        for (index, gradient) in zero.enumerated()
        where !gradient.value.withUnsafeBufferPointer({ $0.allSatisfy { $0 == 0 } }) {
            report.passed = false
            report.failures.append("zero upstream gave a nonzero gradient for input \(index)")
        }
    }
}
