import Foundation
import Testing

@testable import Nabla

@Suite struct GradientClippingTests {
    /// Gradients `[3, 4]` and `[[12]]` (a third parameter has none): global norm 13.
    func parameters(_ first: [Double] = [3, 4]) -> [Parameter<Double>] {
        let a = Parameter(name: "a", value: Tensor<Double>.zeros(shape: [first.count]))
        let b = Parameter(name: "b", value: Tensor<Double>.zeros(shape: [1, 1]))
        let c = Parameter(name: "c", value: Tensor<Double>.zeros(shape: [5]))
        a.gradient = Tensor(first)
        b.gradient = Tensor(shape: [1, 1], scalars: [12])
        return [a, b, c]
    }

    /// Above the limit: every gradient times `maxNorm / (13 + 1e-6)`, PyTorch's coefficient.
    @Test func clipsToTheGlobalNorm() {
        let parameters = parameters()
        let norm = clipGradients(of: parameters, maxNorm: 6.5)
        #expect(norm == 13)
        let coefficient = 6.5 / (13 + 1e-6)
        expectClose(parameters[0].gradient!, Tensor([3 * coefficient, 4 * coefficient]), rtol: 1e-15)
        expectClose(parameters[1].gradient!, Tensor(shape: [1, 1], scalars: [12 * coefficient]), rtol: 1e-15)
        #expect(parameters[2].gradient == nil)
        // The new norm is just under 6.5.
        let clipped = (parameters[0].gradient!.scalars + parameters[1].gradient!.scalars).map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(clipped < 6.5 && clipped > 6.5 - 1e-6)
    }

    /// At or below the limit nothing changes (bit for bit, in the same memory); exactly at the
    /// norm, PyTorch's `+ 1e-6` still scales a little.
    @Test func leavesSmallGradientsAlone() {
        let parameters = parameters()
        let address = parameters[0].gradient!.withUnsafeBufferPointer { $0.baseAddress! }
        #expect(clipGradients(of: parameters, maxNorm: 13.5) == 13)
        #expect(parameters[0].gradient!.scalars == [3, 4] && parameters[1].gradient!.scalars == [12])
        #expect(parameters[0].gradient!.withUnsafeBufferPointer { $0.baseAddress! } == address)
        #expect(clipGradients(of: parameters, maxNorm: 13) == 13)
        let coefficient = 13 / (13 + 1e-6)
        expectClose(parameters[0].gradient!, Tensor([3 * coefficient, 4 * coefficient]), rtol: 1e-15)
        #expect(parameters[0].gradient!.withUnsafeBufferPointer { $0.baseAddress! } == address)
    }

    /// A NaN or infinite gradient gives a NaN or infinite norm, and leaves every gradient as it
    /// was: the finite ones are not silently zeroed.
    @Test func nonFiniteNormLeavesGradientsUnchanged() {
        let withNaN = parameters([3, .nan])
        #expect(clipGradients(of: withNaN, maxNorm: 1).isNaN)
        #expect(withNaN[0].gradient!.scalars[0] == 3 && withNaN[0].gradient!.scalars[1].isNaN)
        #expect(withNaN[1].gradient!.scalars == [12])
        let withInfinity = parameters([3, -.infinity])
        #expect(clipGradients(of: withInfinity, maxNorm: 1) == .infinity)
        #expect(withInfinity[0].gradient!.scalars == [3, -.infinity])
        #expect(withInfinity[1].gradient!.scalars == [12])
    }

    /// Finite gradients whose squares overflow are still clipped to the right norm.
    @Test func hugeFiniteGradients() {
        // Float: 1e30² overflows Float, not the Double accumulator. Norm 2e30.
        let float = Parameter(name: "w", value: Tensor<Float>.zeros(shape: [4]))
        float.gradient = Tensor([1e30, -1e30, 1e30, 1e30])
        #expect(clipGradients(of: [float], maxNorm: 1) == 2e30)
        expectClose(float.gradient!, Tensor([0.5, -0.5, 0.5, 0.5]), rtol: 1e-6)
        // Double: 1e200² overflows Double; the norm is recomputed scaled: √2 · 1e200.
        let double = Parameter(name: "w", value: Tensor<Double>.zeros(shape: [2]))
        double.gradient = Tensor([1e200, 1e200])
        let norm = clipGradients(of: [double], maxNorm: 1)
        #expect(Swift.abs(norm - 2.0.squareRoot() * 1e200) <= 1e-15 * norm)
        expectClose(double.gradient!, Tensor([Double(0.5).squareRoot(), Double(0.5).squareRoot()]), rtol: 1e-14)
        // A norm beyond Double's range is +∞, yet the finite gradients are clipped.
        double.gradient = Tensor([1.5e308, 1.5e308])
        #expect(clipGradients(of: [double], maxNorm: 1) == .infinity)
        expectClose(double.gradient!, Tensor([Double(0.5).squareRoot(), Double(0.5).squareRoot()]), rtol: 1e-14)
    }

    /// The optimizer's method clips its own parameters.
    @Test func optimizerMethod() {
        let parameters = parameters()
        let optimizer = SGD(parameters, learningRate: 1)
        #expect(optimizer.clipGradients(maxNorm: 1.3) == 13)
        optimizer.step()
        let coefficient = 1.3 / (13 + 1e-6)
        expectClose(parameters[0].value, Tensor([-3 * coefficient, -4 * coefficient]), rtol: 1e-15)
    }

    @Test func negativeMaxNorm() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = clipGradients(of: [Parameter(name: "w", value: Tensor<Double>([1]))], maxNorm: -1)
        }
        #expect(standardError(result).contains("clipGradients: maxNorm -1.0 must be finite and ≥ 0"))
    }
}

@Suite struct LearningRateScheduleTests {
    func rates<S: LearningRateSchedule>(_ schedule: S, _ steps: Range<Int>) -> [Double] where S.Scalar == Double {
        steps.map { schedule.learningRate(atStep: $0) }
    }

    func expectRates(_ actual: [Double], _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        for (a, e) in zip(actual, expected) {
            #expect(Swift.abs(a - e) <= 1e-15, "\(actual) vs \(expected)", sourceLocation: sourceLocation)
        }
    }

    /// Halved every 3 steps.
    @Test func stepDecay() {
        expectRates(
            rates(StepDecay(initial: 0.1, interval: 3, gamma: 0.5), 0..<8),
            [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
        // PyTorch's default γ = 0.1.
        expectRates(rates(StepDecay(initial: 1.0, interval: 1), 0..<3), [1, 0.1, 0.01])
    }

    /// From 1 to 0.1 over 4 steps: 0.1 + 0.9 · (1 + cos(π t / 4)) / 2; past the period it rises
    /// again, as PyTorch's closed form.
    @Test func cosineAnnealing() {
        let half = Double(0.5).squareRoot()  // cos(π/4)
        expectRates(
            rates(CosineAnnealing(initial: 1.0, period: 4, minimum: 0.1), 0..<9),
            [1, 0.1 + 0.9 * (1 + half) / 2, 0.55, 0.1 + 0.9 * (1 - half) / 2, 0.1,
             0.1 + 0.9 * (1 - half) / 2, 0.55, 0.1 + 0.9 * (1 + half) / 2, 1])
        expectRates(rates(CosineAnnealing(initial: 0.2, period: 2), 0..<3), [0.2, 0.1, 0])
    }

    /// Four warm-up steps from a quarter of the base rate, then the base schedule from its step 0.
    @Test func linearWarmup() {
        expectRates(
            rates(LinearWarmup(steps: 4, startFactor: 0.25, then: ConstantLearningRate(0.1)), 0..<6),
            [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1])
        let cosine = CosineAnnealing(initial: 0.4, period: 2)
        expectRates(
            rates(LinearWarmup(steps: 2, startFactor: 0, then: cosine), 0..<5),
            [0, 0.2, 0.4, 0.2, 0])
        // PyTorch's default start factor, 1/3.
        expectRates(rates(LinearWarmup(steps: 2, then: ConstantLearningRate(0.3)), 0..<3), [0.1, 0.2, 0.3])
        // Warm-up composes with step decay too, and with itself.
        let nested = LinearWarmup(steps: 1, startFactor: 0.5, then: LinearWarmup(steps: 2, startFactor: 0.5, then: StepDecay(initial: 0.8, interval: 1, gamma: 0.5)))
        expectRates(rates(nested, 0..<5), [0.2, 0.4, 0.6, 0.8, 0.4])
    }

    /// Driving an optimizer: the rate of each step is the schedule's at the step count.
    @Test func drivesAnOptimizer() {
        let parameter = Parameter(name: "w", value: Tensor([0.0]))
        let optimizer = SGD([parameter])
        let schedule = StepDecay(initial: 1.0, interval: 2, gamma: 0.5)
        parameter.gradient = Tensor([-1])
        for _ in 0..<4 {
            optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
            optimizer.step()
        }
        #expect(parameter.value.scalars == [3])  // 1 + 1 + 0.5 + 0.5
    }

    @Test func negativeStep() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = StepDecay<Double>(initial: 1, interval: 2).learningRate(atStep: -1)
        }
        #expect(standardError(result).contains("StepDecay: step -1 is negative"))
    }
}
