import Foundation
import Testing

@testable import Nabla

/// NLLLoss and KLDivLoss: values by hand and from PyTorch, gradients against central
/// differences, the graph path against the manual one, and their edges.
@Suite struct NLLAndKLDivLossTests {
    /// Without weights, NLL of log-softmax is cross-entropy, an independent implementation.
    @Test func nllOfLogSoftmaxIsCrossEntropy() {
        let logits: Tensor<Double> = randomTensor([4, 5], seed: 1)
        let target = [0, 4, 2, 2]
        let logProbabilities = logSoftmax(logits, alongAxis: 1)
        let nll = NLLLoss<Double>().valueAndGradient(logProbabilities, target: target).value
        let crossEntropy = CrossEntropyLoss<Double>().valueAndGradient(logits, target: target).value
        #expect(abs(nll - crossEntropy) < 1e-14)
    }

    /// Weights 1, 2, 3 on classes 0, 1, 2; the middle sample ignored:
    /// `(−1·(−0.5) − 3·(−2)) / (1 + 3) = 6.5 / 4`, and the sum 6.5.
    @Test(arguments: [LossReduction.mean, .sum])
    func nllByHand(_ reduction: LossReduction) {
        let loss = NLLLoss<Double>(weight: Tensor([1, 2, 3]), ignoreIndex: 9, reduction: reduction)
        let x = Tensor<Double>(shape: [3, 3], scalars: [-0.5, -1, -2, -3, -4, -5, -6, -7, -2])
        let (value, gradient) = loss.valueAndGradient(x, target: [0, 9, 2])
        let divisor = reduction == .mean ? 4.0 : 1
        #expect(value == 6.5 / divisor)
        #expect(gradient.scalars == [-1 / divisor, 0, 0, 0, 0, 0, 0, 0, -3 / divisor])
        let graph = loss(DOps.variable(x), target: [0, 9, 2])
        #expect(graph.value.scalar == value)
    }

    @Test func allIgnoredHasNoMean() {
        let (value, _) = NLLLoss<Double>().valueAndGradient(Tensor(shape: [2, 2], scalars: [-1, -1, -1, -1]), target: [-100, -100])
        #expect(value.isNaN)
    }

    /// `t = [½, ½]`, `x = log [¼, ¾]`: `½ log 2 + ½ log ⅔`; a zero target entry adds nothing even
    /// where `x` is −∞; the log target gives the same.
    @Test(arguments: [false, true])
    func klDivergenceByHand(logTarget: Bool) {
        let x = Tensor<Double>(shape: [1, 3], scalars: [Foundation.log(0.25), Foundation.log(0.75), -.infinity])
        let t = Tensor<Double>(shape: [1, 3], scalars: [0.5, 0.5, 0])
        let loss = KLDivLoss<Double>(logTarget: logTarget)
        let target = logTarget ? log(t) : t
        let (value, gradient) = loss.valueAndGradient(x, target: target)
        let expected = 0.5 * Foundation.log(2) + 0.5 * Foundation.log(2.0 / 3)
        #expect(abs(value - expected) < 1e-15)
        #expect(gradient.scalars == [-0.5, -0.5, 0])
        let graph = loss(DOps.variable(x), target: target)
        #expect(abs(graph.value.scalar - expected) < 1e-15)
    }

    /// Central differences of the manual value against both paths' gradients.
    @Test(arguments: [0, 1])
    func gradientsMatchFiniteDifferences(_ which: Int) {
        let x = logSoftmax(randomTensor([3, 4], seed: 2) as Tensor<Double>, alongAxis: 1)
        let target = softmax(randomTensor([3, 4], seed: 3) as Tensor<Double>, alongAxis: 1)
        let value: (Tensor<Double>) -> Double = which == 0
            ? { NLLLoss<Double>(weight: Tensor([1, 2, 0.5, 1])).valueAndGradient($0, target: [1, 3, 0]).value }
            : { KLDivLoss<Double>(reduction: .mean).valueAndGradient($0, target: target).value }
        let manual = which == 0
            ? NLLLoss<Double>(weight: Tensor([1, 2, 0.5, 1])).valueAndGradient(x, target: [1, 3, 0]).gradient
            : KLDivLoss<Double>(reduction: .mean).valueAndGradient(x, target: target).gradient
        let numeric = LayerGradientCheck.centralDifferences(of: x, 1e-6, value)
        #expect(LayerGradientCheck.relativeDifference(manual, numeric) < 1e-8)
        let variable = DOps.variable(x)
        let tape = GradientTape<Double>()
        tape.watch(variable)
        let y = tape.record {
            which == 0
                ? NLLLoss<Double>(weight: Tensor([1, 2, 0.5, 1]))(variable, target: [1, 3, 0])
                : KLDivLoss<Double>(reduction: .mean)(variable, target: target)
        }
        let graph = tape.gradient(of: y, withRespectTo: [variable])[0].value
        #expect(LayerGradientCheck.relativeDifference(graph, numeric) < 1e-8)
    }

    @Test func pyTorchsValues() {
        let file = PyTorchLayersIIIFixtureTests.file
        func t(_ name: String) -> Tensor<Float> { file.tensor(name, as: Float.self)! }
        let nll = NLLLoss<Float>(weight: t("run.nll.weight"))
        let target = t("run.nll.target").scalars.map { Int($0) }
        let (value, gradient) = nll.valueAndGradient(t("run.nll.input"), target: target)
        #expect(abs(value - t("run.nll.value").scalars[0]) < 1e-5)
        expectClose(gradient, t("run.nll.input_grad"), rtol: 1e-5, atol: 1e-6)
        let kl = KLDivLoss<Float>()
        let (klValue, klGradient) = kl.valueAndGradient(t("run.kl.input"), target: t("run.kl.target"))
        #expect(abs(klValue - t("run.kl.value").scalars[0]) < 1e-5)
        expectClose(klGradient, t("run.kl.input_grad"), rtol: 1e-5, atol: 1e-6)
    }

    @Test func misuseNamesTheLoss() async {
        let index = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = NLLLoss<Float>().valueAndGradient(.zeros(shape: [2, 3]), target: [0, 3])
        }
        #expect(standardError(index).contains("NLLLoss: class index 3 at row 1 is out of range for log-probabilities [2, 3] (ignoreIndex -100)"))
        let shapes = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = KLDivLoss<Float>().valueAndGradient(.zeros(shape: [2, 3]), target: .zeros(shape: [3, 2]))
        }
        #expect(standardError(shapes).contains("KLDivLoss: log-probabilities [2, 3] and target [3, 2]: shapes differ"))
    }
}
