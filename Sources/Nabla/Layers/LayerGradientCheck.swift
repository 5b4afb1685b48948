/// Checks a layer's two backward paths against each other and against central differences, in
/// `Double`, with a random upstream gradient (never `sum(y)`, which hides normalization bugs).
///
/// Differences are normwise relative: `max|a − b| / max|b|` over each tensor, the worst tensor
/// reported.
public enum LayerGradientCheck {
    /// The outcome for one layer and input.
    public struct Report: Sendable, CustomStringConvertible {
        /// Manual vs autodiff: the output, the input gradient and every parameter gradient. 0
        /// for a layer without a manual backward, whose two runs are the same path (see
        /// ``hasTwoPaths``).
        public var manualVersusAutodiff: Double = 0
        /// Whether the layer has a manual backward, so that ``manualVersusAutodiff`` compares two
        /// different computations.
        public var hasTwoPaths = true
        /// The manual backward against central differences of the manual forward.
        public var manualVersusFiniteDifferences: Double = 0
        /// The autodiff backward against central differences of the graph-mode forward.
        public var autodiffVersusFiniteDifferences: Double = 0
        /// The gradient of a penalty on the input gradient with respect to the input and the
        /// parameters, through the graph-mode forward, against central differences; `nil` if not
        /// checked.
        public var secondOrder: Double?

        public var description: String {
            "manual vs autodiff " + (hasTwoPaths ? "\(manualVersusAutodiff)" : "— (one path)")
                + ", manual vs finite differences "
                + "\(manualVersusFiniteDifferences), autodiff vs finite differences "
                + "\(autodiffVersusFiniteDifferences), second order "
                + (secondOrder.map { "\($0)" } ?? "not checked")
        }
    }

    /// Checks `layer` at `input`. The layer's ``Layer/useAutodiff`` is restored afterwards and
    /// its gradients are cleared. Every forward replays the same random draws (see
    /// ``Layer/randomStates``), so Dropout masks stay fixed.
    public static func check(
        _ layer: Layer<Double>, input: Tensor<Double>, checksSecondOrder: Bool = true,
        epsilon: Double = 1e-6, seed: UInt64 = 0
    ) -> Report {
        let wasAutodiff = layer.useAutodiff
        defer {
            layer.useAutodiff = wasAutodiff
            layer.zeroGradients()
        }
        var generator = SeededGenerator(seed: seed)
        let parameters = layer.parameters
        let randomStates = layer.randomStates
        func forward(_ x: Tensor<Double>) -> Tensor<Double> {
            layer.randomStates = randomStates
            return layer.forward(x)
        }
        layer.useAutodiff = false
        let outputShape = forward(input).shape
        let upstream = Tensor<Double>.randomUniform(shape: outputShape, in: -1..<1, using: &generator)

        func gradients(autodiff: Bool) -> (output: Tensor<Double>, tensors: [Tensor<Double>]) {
            layer.zeroGradients()
            layer.useAutodiff = autodiff
            let output = forward(input)
            let inputGradient = layer.backward(upstream)
            let parameterGradients = parameters.map { $0.gradient ?? .zeros(shape: $0.value.shape) }
            return (output, (inputGradient.map { [$0] } ?? []) + parameterGradients)
        }
        let manual = gradients(autodiff: false)
        let autodiff = gradients(autodiff: true)
        var report = Report()
        report.hasTwoPaths = layer.hasManualBackward && !layer.isContainer
            || layer.sublayers.contains { $0.hasManualBackward }
        // Both paths give the same tensors: an input gradient on one only is a disagreement.
        report.manualVersusAutodiff = manual.tensors.count != autodiff.tensors.count
            ? .infinity
            : zip([manual.output] + manual.tensors, [autodiff.output] + autodiff.tensors)
                .map { relativeDifference($0, $1) }.max() ?? 0

        // Central differences of ⟨forward(x), c⟩ in the input and every parameter.
        func numericGradients(autodiff: Bool) -> [Tensor<Double>] {
            layer.useAutodiff = autodiff
            func objective(_ x: Tensor<Double>) -> Double { (forward(x) * upstream).sum().scalar }
            var result: [Tensor<Double>] = []
            if layer.computesInputGradient {
                result.append(centralDifferences(of: input, epsilon, objective))
            }
            for parameter in parameters {
                let original = parameter.value
                result.append(centralDifferences(of: original, epsilon) { moved in
                    parameter.value = moved
                    defer { parameter.value = original }
                    return objective(input)
                })
            }
            return result
        }
        report.manualVersusFiniteDifferences = zip(manual.tensors, numericGradients(autodiff: false))
            .map { relativeDifference($0, $1) }.max() ?? 0
        report.autodiffVersusFiniteDifferences = zip(autodiff.tensors, numericGradients(autodiff: true))
            .map { relativeDifference($0, $1) }.max() ?? 0
        if checksSecondOrder {
            layer.randomStates = randomStates
            report.secondOrder = secondOrderError(layer, input, upstream, epsilon, &generator)
        }
        return report
    }

    /// The penalty `h(x, θ) = ⟨∇ₓ⟨layer(x; θ), c⟩, v⟩`, its gradient with respect to the input
    /// and the parameters through nested tapes, against central differences of `h`.
    static func secondOrderError(
        _ layer: Layer<Double>, _ input: Tensor<Double>, _ upstream: Tensor<Double>,
        _ epsilon: Double, _ generator: inout SeededGenerator
    ) -> Double {
        let direction = Tensor<Double>.randomUniform(shape: input.shape, in: -1..<1, using: &generator)
        let parameters = layer.parameters
        let randomStates = layer.randomStates
        func penalty(_ x: Variable<Double>) -> Variable<Double> {
            layer.randomStates = randomStates
            let inner = GradientTape<Double>()
            inner.watch(x)
            let y = inner.record { layer(x) }
            let inputGradient = inner.gradient(of: y, withRespectTo: [x], seed: upstream)[0]
            return TensorOperations.sum(inputGradient * direction)
        }
        let x = TensorOperations.variable(input)
        let outer = GradientTape<Double>()
        outer.watch(x)
        let h = outer.record { penalty(x) }
        let analytic = outer.gradient(
            of: h, withRespectTo: [x] + parameters.map(\.variable), unconnected: .zero
        ).map(\.value)
        func value(_ x: Tensor<Double>) -> Double { penalty(TensorOperations.variable(x)).value.scalar }
        var worst = relativeDifference(analytic[0], centralDifferences(of: input, epsilon, value))
        for (parameter, gradient) in zip(parameters, analytic.dropFirst()) {
            let original = parameter.value
            let numeric = centralDifferences(of: original, epsilon) { moved in
                parameter.value = moved
                defer { parameter.value = original }
                return value(input)
            }
            worst = Swift.max(worst, relativeDifference(gradient, numeric))
        }
        return worst
    }

    /// `(f(v + εeᵢ) − f(v − εeᵢ)) / 2ε` for every element `i` of `value`.
    static func centralDifferences(
        of value: Tensor<Double>, _ epsilon: Double, _ f: (Tensor<Double>) -> Double
    ) -> Tensor<Double> {
        let scalars = value.scalars
        var gradient = [Double](repeating: 0, count: scalars.count)
        for element in scalars.indices {
            var plus = scalars, minus = scalars
            plus[element] += epsilon
            minus[element] -= epsilon
            gradient[element] =
                (f(Tensor(shape: value.shape, scalars: plus)) - f(Tensor(shape: value.shape, scalars: minus))) / (2 * epsilon)
        }
        return Tensor(shape: value.shape, scalars: gradient)
    }

    /// `max|a − b| / max|b|`, or `max|a − b|` where `b` is 0; NaN if either holds a NaN.
    static func relativeDifference(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
        guard a.shape == b.shape else { return .infinity }
        let error = abs(a - b).scalars.reduce(0) { Swift.max($0, $1.isNaN ? .nan : $1) }
        let scale = abs(b).scalars.reduce(0, Swift.max)
        return scale > 0 ? error / scale : error
    }
}
