import BenchCatalog
import Benchmark
import Nabla

// Autodiff: the tape path (`Kernel.nabla`) against the same work on direct Tensor kernels
// (`Kernel.direct`), interleaved in every iteration. Every setup first checks that the tape's
// values and gradients agree with the direct kernels.

private typealias Ops = TensorOperations<Float>

/// A reproducible Tensor with scalars in [-1, 1).
private func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor<Float> {
    // The buffer must outlive the copy: a temporary may be freed as soon as `readOnly` is read.
    let buffer = AlignedBuffer<Float>(randomCount: shape.reduce(1, *), seed: seed)
    return withExtendedLifetime(buffer) { Tensor(shape: shape, scalars: Array(buffer.readOnly)) }
}

/// Stops the run unless `x` and `y` have one shape and agree within `tolerance`.
private func checkTensors(
    _ what: String, _ x: Tensor<Float>, _ y: Tensor<Float>, tolerance: Double
) {
    if x.shape != y.shape { fatalError("\(what): shapes \(x.shape) and \(y.shape) differ") }
    x.withUnsafeBufferPointer { a in
        y.withUnsafeBufferPointer { b in checkAgreement(what, a, b, tolerance: tolerance) }
    }
}

/// The two paths of one ``AutodiffCase``, as closures over their operands.
final class AutodiffState: @unchecked Sendable {
    let tape: () -> Void
    let direct: () -> Void
    /// Recording cases: the same op outside any tape (no node).
    var untaped: (() -> Void)?
    let counter = IterationCounter()

    init(_ benchmark: AutodiffCase) {
        let what = benchmark.name
        let repeats = benchmark.repeats
        switch benchmark.work {
        case .recordExp(let count):
            let x = Ops.variable(randomTensor([count], seed: 21), requiresGradient: true)
            // Check: one node recorded, same value, gradient exp(x).
            let checkTape = GradientTape<Float>()
            let y = checkTape.record { Ops.exp(x) }
            if checkTape.recordedOperationCount != 1 { fatalError("\(what): no node recorded") }
            checkTensors("\(what) value", y.value, exp(x.value), tolerance: 0)
            let seed = randomTensor([count], seed: 22)
            let dx = checkTape.gradient(of: y, withRespectTo: [x], seed: seed)[0]
            checkTensors("\(what) gradient", dx.value, seed * exp(x.value), tolerance: 1e-6)
            // A fresh tape per call, so the node is allocated (and freed) every time.
            tape = {
                for _ in 0..<repeats {
                    let tape = GradientTape<Float>()
                    blackHole(tape.record { Ops.exp(x) })
                }
            }
            direct = { for _ in 0..<repeats { blackHole(exp(x.value)) } }
            untaped = { for _ in 0..<repeats { blackHole(Ops.exp(x)) } }

        case .recordMatmul(let n):
            let a = Ops.variable(randomTensor([n, n], seed: 23), requiresGradient: true)
            let b = Ops.variable(randomTensor([n, n], seed: 24), requiresGradient: true)
            let checkTape = GradientTape<Float>()
            let y = checkTape.record { Ops.matmul(a, b) }
            if checkTape.recordedOperationCount != 1 { fatalError("\(what): no node recorded") }
            checkTensors("\(what) value", y.value, matmul(a.value, b.value), tolerance: 1e-5)
            let g = randomTensor([n, n], seed: 25)
            let grads = checkTape.gradient(of: y, withRespectTo: [a, b], seed: g)
            checkTensors("\(what) dA", grads[0].value, matmul(g, b.value, transposeRHS: true), tolerance: 1e-4)
            checkTensors("\(what) dB", grads[1].value, matmul(a.value, g, transposeLHS: true), tolerance: 1e-4)
            tape = {
                for _ in 0..<repeats {
                    let tape = GradientTape<Float>()
                    blackHole(tape.record { Ops.matmul(a, b) })
                }
            }
            direct = { for _ in 0..<repeats { blackHole(matmul(a.value, b.value)) } }
            untaped = { for _ in 0..<repeats { blackHole(Ops.matmul(a, b)) } }

        case .backwardMatmul(let m, let k, let n):
            let a = Ops.variable(randomTensor([m, k], seed: 26), requiresGradient: true)
            let w = Ops.variable(randomTensor([k, n], seed: 27), requiresGradient: true)
            let g = randomTensor([m, n], seed: 28)
            // Recorded once; each call runs the backward only.
            let graph = GradientTape<Float>(persistent: true)
            let y = graph.record { Ops.matmul(a, w) }
            let grads = graph.gradient(of: y, withRespectTo: [a, w], seed: g)
            checkTensors("\(what) dA", grads[0].value, matmul(g, w.value, transposeRHS: true), tolerance: 1e-4)
            checkTensors("\(what) dW", grads[1].value, matmul(a.value, g, transposeLHS: true), tolerance: 1e-4)
            tape = { blackHole(graph.gradient(of: y, withRespectTo: [a, w], seed: g)) }
            direct = {
                blackHole(matmul(g, w.value, transposeRHS: true))
                blackHole(matmul(a.value, g, transposeLHS: true))
            }

        case .backwardConv(let shape, let inputGradient):
            let configuration = Convolution2DConfiguration(
                stride: shape.stride, padding: shape.padding, dilation: 1)
            let inputShape = [shape.batch, shape.inChannels, shape.height, shape.width]
            let filterShape = [shape.outChannels, shape.inChannels, shape.kernelHeight, shape.kernelWidth]
            let inputValue = randomTensor(inputShape, seed: 29)
            // A constant input needs no gradient: the tape must skip its GEMM and col2im.
            let x = inputGradient
                ? Ops.variable(inputValue, requiresGradient: true) : Ops.constant(inputValue)
            let f = Ops.variable(randomTensor(filterShape, seed: 30), requiresGradient: true)
            let g = randomTensor(
                [shape.batch, shape.outChannels, shape.outHeight, shape.outWidth], seed: 31)
            let graph = GradientTape<Float>(persistent: true)
            let y = graph.record { Ops.conv2d(x, filter: f, configuration: configuration) }
            checkTensors(
                "\(what) value", y.value, conv2d(x.value, filter: f.value, configuration: configuration),
                tolerance: 0)
            let sources = inputGradient ? [x, f] : [f]
            let grads = graph.gradient(of: y, withRespectTo: sources, seed: g)
            let dFilter = { conv2dBackwardFilter(g, input: x.value, filterShape: filterShape, configuration: configuration) }
            let dInput = { conv2dBackwardInput(g, filter: f.value, inputShape: inputShape, configuration: configuration) }
            checkTensors("\(what) dFilter", grads.last!.value, dFilter(), tolerance: 1e-4)
            if inputGradient { checkTensors("\(what) dInput", grads[0].value, dInput(), tolerance: 1e-4) }
            tape = { blackHole(graph.gradient(of: y, withRespectTo: sources, seed: g)) }
            direct = inputGradient
                ? { blackHole(dInput()); blackHole(dFilter()) }
                : { blackHole(dFilter()) }
        }
    }
}

/// The ten-op chain of ``AutodiffChain`` on a tape and directly on Tensors.
final class ChainState: @unchecked Sendable {
    let x = Ops.variable(
        randomTensor([AutodiffChain.size, AutodiffChain.size], seed: 32), requiresGradient: true)
    let c = Ops.constant(randomTensor([AutodiffChain.size, AutodiffChain.size], seed: 33))
    let counter = IterationCounter()

    /// exp, tanh, multiply, add, sigmoid, square, subtract, scale, relu, sum.
    func forward() -> Variable<Float> {
        let a1 = Ops.exp(x), a2 = Ops.tanh(a1), a3 = Ops.multiply(a2, c), a4 = Ops.add(a3, x)
        let a5 = Ops.sigmoid(a4), a6 = Ops.square(a5), a7 = Ops.subtract(a6, a3)
        let a8 = Ops.scale(a7, by: 0.5), a9 = Ops.relu(a8)
        return Ops.sum(a9)
    }

    /// The same ten ops on Tensors, no tape.
    func forwardDirect() -> Tensor<Float> {
        let xv = x.value, cv = c.value
        let a1 = exp(xv), a2 = tanh(a1), a3 = a2 * cv, a4 = a3 + xv
        let a5 = sigmoid(a4), a6 = square(a5), a7 = a6 - a3
        let a8 = a7 * 0.5, a9 = relu(a8)
        return a9.sum()
    }

    /// Record and gradient on a fresh non-persistent tape.
    func tape() {
        let tape = GradientTape<Float>()
        let loss = tape.record { forward() }
        blackHole(tape.gradient(of: loss, withRespectTo: [x]))
    }

    func direct() { blackHole(forwardDirect()) }

    /// The tape's loss against the direct forward, its gradient against one derived by hand.
    func check() {
        let tape = GradientTape<Float>()
        let loss = tape.record { forward() }
        if tape.recordedOperationCount != AutodiffChain.operationCount {
            fatalError("chain: \(tape.recordedOperationCount) ops recorded")
        }
        checkTensors("chain loss", loss.value, forwardDirect(), tolerance: 1e-6)
        let dx = tape.gradient(of: loss, withRespectTo: [x])[0].value
        let xv = x.value, cv = c.value
        let a1 = exp(xv), a2 = tanh(a1), a3 = a2 * cv, a4 = a3 + xv
        let a5 = sigmoid(a4), a8 = (square(a5) - a3) * 0.5
        let g7 = a8.map { $0 > 0 ? 0.5 : 0 }
        let g4 = g7 * (a5 * 2) * (a5 - square(a5))
        let g3 = g4 - g7
        let expected = g4 + g3 * cv * (1 - square(a2)) * a1
        checkTensors("chain gradient", dx, expected, tolerance: 1e-5)
    }
}

func registerAutodiffBenchmarks() {
    for autodiffCase in Catalog.autodiffCases {
        // Backward calls take milliseconds: a longer budget for enough samples.
        let configuration: Benchmark.Configuration =
            autodiffCase.isRecording
            ? .timing(autodiffCase.kernels)
            : .timing(autodiffCase.kernels, maxDuration: .seconds(2))
        Benchmark(autodiffCase.name, configuration: configuration) {
            (benchmark: Benchmark, state: AutodiffState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.tape), (.direct, state.direct)]
                    + (state.untaped.map { [(.untaped, $0)] } ?? []))
        } setup: {
            AutodiffState(autodiffCase)
        }
    }

    // The chain: framework metrics (mallocs, resident memory) on one path per benchmark,
    // through explicit start/stop around that path's call; both paths still timed side by side.
    var configuration = Benchmark.Configuration.timing(AutodiffChain.kernels)
    configuration.metrics += [.mallocCountTotal, .peakMemoryResident, .peakMemoryResidentDelta]
    for (name, measured) in [(AutodiffChain.tapeName, Kernel.nabla), (AutodiffChain.directName, .direct)] {
        Benchmark(name, configuration: configuration) { (benchmark: Benchmark, state: ChainState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.tape), (.direct, state.direct)], measuring: measured)
        } setup: {
            let state = ChainState()
            state.check()
            return state
        }
    }
}
