import Foundation
import Testing

@testable import Nabla

extension OperationSpec {
    /// The activations against their definitions written with Foundation, first and second order.
    static let activations: [OperationSpec] = [
        .init(name: "silu", inputShapes: [[3, 4]], domain: .wide,
              double: { DOps.silu($0[0]) }, float: { FOps.silu($0[0]) },
              reference: elementwiseReference { $0 / (1 + Foundation.exp(-$0)) }),
        .init(name: "elu(alpha: 0.7)", inputShapes: [[3, 4]], domain: .wide,
              double: { DOps.elu($0[0], alpha: 0.7) }, float: { FOps.elu($0[0], alpha: 0.7) },
              reference: elementwiseReference { $0 > 0 ? $0 : 0.7 * (Foundation.exp($0) - 1) }),
        // β = 2, threshold 3: the linear piece from x = 1.5 on.
        .init(name: "softplus(beta: 2, threshold: 3)", inputShapes: [[3, 4]], domain: .wide,
              double: { DOps.softplus($0[0], beta: 2, threshold: 3) },
              float: { FOps.softplus($0[0], beta: 2, threshold: 3) },
              reference: elementwiseReference { 2 * $0 > 3 ? $0 : Foundation.log(1 + Foundation.exp(2 * $0)) / 2 }),
        .init(name: "hardswish", inputShapes: [[3, 4]], domain: .wide,
              double: { DOps.hardswish($0[0]) }, float: { FOps.hardswish($0[0]) },
              reference: elementwiseReference { $0 * Swift.min(Swift.max($0 + 3, 0), 6) / 6 }),
        .init(name: "mish", inputShapes: [[3, 4]], domain: .wide,
              double: { DOps.mish($0[0]) }, float: { FOps.mish($0[0]) },
              reference: elementwiseReference { $0 * Foundation.tanh(Foundation.log(1 + Foundation.exp($0))) }),
    ]
}

extension LayerCase {
    static let activations: [LayerCase] = [
        .init(name: "SiLU", inputShape: [3, 4], domain: .wide) { _ in SiLU() } makeFloat: { _ in SiLU() },
        .init(name: "ELU(alpha: 1.3)", inputShape: [3, 4], domain: .wide) { _ in ELU(alpha: 1.3) } makeFloat: { _ in ELU(alpha: 1.3) },
        .init(name: "Softplus(beta: 0.5, threshold: 2)", inputShape: [2, 3, 2], domain: .wide) { _ in
            Softplus(beta: 0.5, threshold: 2)
        } makeFloat: { _ in Softplus(beta: 0.5, threshold: 2) },
        .init(name: "Hardswish", inputShape: [3, 4], domain: .wide) { _ in Hardswish() } makeFloat: { _ in Hardswish() },
        .init(name: "Mish", inputShape: [3, 4], domain: .wide) { _ in Mish() } makeFloat: { _ in Mish() },
    ]
}

/// Values worked out by hand, limits at ±∞, NaN at every order, and the misuse messages.
@Suite struct ActivationTests {
    struct Point: Sendable, CustomTestStringConvertible {
        let activation: PointwiseActivation
        let x: Double
        /// The value, the derivative and the second derivative.
        let expected: [Double]
        var testDescription: String { "\(activation) at \(x)" }
    }

    static let points: [Point] = [
        // σ(0) = ½: silu(0) = 0, silu′(0) = ½, silu″(0) = σ(0)σ(0)·2 = ½.
        Point(activation: .silu, x: 0, expected: [0, 0.5, 0.5]),
        Point(activation: .silu, x: 1, expected: [1 / (1 + exp(-1)), 0.9276705118714869, 0.3023661188100153]),
        Point(activation: .silu, x: -.infinity, expected: [0, 0, 0]),
        Point(activation: .silu, x: .infinity, expected: [.infinity, 1, 0]),
        // ELU at 0 takes the negative piece, as PyTorch: f′(0) = α.
        Point(activation: .elu(alpha: 2), x: 0, expected: [0, 2, 2]),
        Point(activation: .elu(alpha: 2), x: -.infinity, expected: [-2, 0, 0]),
        Point(activation: .elu(alpha: 2), x: 1.5, expected: [1.5, 1, 0]),
        // Softplus: log 2, ½, ¼ at 0 (β = 1); linear above the threshold; β scales the second derivative.
        Point(activation: .softplus(beta: 1, threshold: 20), x: 0, expected: [log(2), 0.5, 0.25]),
        Point(activation: .softplus(beta: 3, threshold: 20), x: 0, expected: [log(2) / 3, 0.5, 0.75]),
        Point(activation: .softplus(beta: 1, threshold: 20), x: 21, expected: [21, 1, 0]),
        Point(activation: .softplus(beta: 1, threshold: 20), x: -.infinity, expected: [0, 0, 0]),
        // Hardswish: PyTorch's slopes at the kinks, −½ at −3 and 3/2 at 3.
        Point(activation: .hardswish, x: -3, expected: [0, -0.5, 1.0 / 3]),
        Point(activation: .hardswish, x: 3, expected: [3, 1.5, 1.0 / 3]),
        Point(activation: .hardswish, x: -3.5, expected: [0, 0, 0]),
        Point(activation: .hardswish, x: 1, expected: [4.0 / 6, 5.0 / 6, 1.0 / 3]),
        // Mish at 0: tanh(log 2) = 3/5, so mish′(0) = 3/5 and mish″(0) = sech²(log 2) = 16/25.
        Point(activation: .mish, x: 0, expected: [0, 0.6, 0.64]),
        Point(activation: .mish, x: -.infinity, expected: [0, 0, 0]),
        Point(activation: .mish, x: .infinity, expected: [.infinity, 1, 0]),
        Point(activation: .mish, x: 100, expected: [100, 1, 0]),
    ]

    @Test(arguments: points)
    func valuesByHand(_ point: Point) {
        for order in 0...2 {
            let value: Double = point.activation(point.x, order: order)
            let expected = point.expected[order]
            #expect(
                value == expected || abs(value - expected) <= 1e-12 * max(1, abs(expected)),
                "order \(order): \(value), expected \(expected)")
            let single: Float = point.activation(Float(point.x), order: order)
            #expect(single == Float(expected) || abs(Double(single) - expected) <= 1e-6 * max(1, abs(expected)))
        }
    }

    /// A NaN input gives NaN at every order, on both paths, and through the tape's second order.
    @Test(arguments: [PointwiseActivation.silu, .elu(alpha: 1), .softplus(beta: 1, threshold: 20), .hardswish, .mish])
    func nanStaysNaN(_ activation: PointwiseActivation) {
        for order in 0...2 { #expect((activation(Double.nan, order: order) as Double).isNaN) }
        let x = Tensor<Double>([.nan, 1])
        let layer = ActivationLayer<Double>("\(activation)", activation)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let y = layer.forward(x)
            #expect(y[0].isNaN && !y[1].isNaN)
            let g = layer.backward(Tensor([1, 1]))!
            #expect(g[0].isNaN && !g[1].isNaN)
        }
        let variable = DOps.variable(x)
        let tape = GradientTape<Double>(persistent: true)
        tape.watch(variable)
        let y = tape.record { DOps.activate(variable, activation) }
        let first = tape.gradient(of: y, withRespectTo: [variable], seed: Tensor([1, 1]), createGraph: true)[0]
        let second = tape.gradient(of: first, withRespectTo: [variable], seed: Tensor([1, 1]))[0]
        #expect(second.value[0].isNaN && !second.value[1].isNaN)
    }

    @Test func thirdDerivativeIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = DOps.variable(Tensor<Double>([0.5]))
            let tape = GradientTape<Double>(persistent: true)
            tape.watch(x)
            let y = tape.record { DOps.mish(x) }
            let first = tape.gradient(of: y, withRespectTo: [x], createGraph: true)[0]
            let second = tape.gradient(of: first, withRespectTo: [x], createGraph: true)[0]
            _ = tape.gradient(of: second, withRespectTo: [x])
        }
        #expect(standardError(result).contains("mish: a derivative of order 3 was asked for; orders 1 and 2 are available"))
    }

    @Test func badParametersNameTheLayer() async {
        let elu = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ELU<Float>(alpha: .infinity)
        }
        #expect(standardError(elu).contains("ELU(alpha: inf): alpha inf must be finite"))
        let softplus = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Softplus<Float>(beta: 0)
        }
        #expect(standardError(softplus).contains("Softplus(beta: 0.0, threshold: 20.0): beta 0.0 must be positive and finite, threshold 20.0 finite"))
    }
}
