import BenchCatalog
import Benchmark
import Nabla

// Layers: manual forward, manual forward+backward, autodiff forward+backward, and the GEMMs the
// layer must spend, interleaved in every iteration. The setup checks that both paths agree.

/// Two copies of one layer (manual and autodiff path), its input and upstream gradient, and
/// its GEMMs on preallocated buffers.
final class LayerState: @unchecked Sendable {
    let manual: Layer<Float>
    let autodiff: Layer<Float>
    let input: Tensor<Float>
    let upstream: Tensor<Float>
    /// The layer's GEMMs as (transposeA, transposeB, m, n, k): forward, weight gradient and,
    /// unless it is a first layer, input gradient.
    var gemms: [(Bool, Bool, Int, Int, Int)] = []
    private var buffers: [(AlignedBuffer<Float>, AlignedBuffer<Float>, AlignedBuffer<Float>)] = []
    let counter = IterationCounter()

    init(_ benchmark: LayerBenchmark) {
        func make() -> (Layer<Float>, [Int]) {
            var generator = SeededGenerator(seed: 1)
            switch benchmark.layer {
            case .dense(let batch, let input, let output):
                return (Dense(inputSize: input, outputSize: output, using: &generator), [batch, input])
            case .conv(let s, let inputGradient):
                let layer = Conv2D<Float>(
                    inputChannels: s.inChannels, outputChannels: s.outChannels, kernelSize: s.kernelHeight,
                    stride: s.stride, padding: s.padding, using: &generator)
                layer.computesInputGradient = inputGradient
                return (layer, [s.batch, s.inChannels, s.height, s.width])
            case .batchNorm(let shape):
                return (BatchNorm(featureCount: shape[1]), shape)
            case .layerNorm(let shape):
                return (LayerNorm(normalizedShape: Array(shape.dropFirst())), shape)
            case .lstm(let steps, let batch, let input, let hidden, let layers):
                return (LSTM(inputSize: input, hiddenSize: hidden, numLayers: layers, using: &generator), [steps, batch, input])
            case .conv1D(let batch, let input, let output, let length):
                return (Conv1D(inputChannels: input, outputChannels: output, kernelSize: 5, padding: 2, using: &generator),
                        [batch, input, length])
            case .instanceNorm(let shape):
                return (InstanceNorm2D(featureCount: shape[1], affine: true), shape)
            case .rmsNorm(let shape):
                return (RMSNorm(normalizedShape: [shape.last!]), shape)
            case .transformer(let batch, let sequence, let dModel, let heads, let feedForward):
                return (TransformerEncoderLayer(
                    dModel: dModel, heads: heads, feedForwardSize: feedForward, batchFirst: true, using: &generator),
                        [batch, sequence, dModel])
            case .depthwise(let batch, let channels, let side):
                return (Conv2D(inputChannels: channels, outputChannels: channels, kernelSize: 3, padding: 1, groups: channels, using: &generator),
                        [batch, channels, side, side])
            case .convTranspose(let batch, let input, let output, let side):
                return (ConvTranspose2D(inputChannels: input, outputChannels: output, kernelSize: 4, stride: 2, padding: 1, using: &generator),
                        [batch, input, side, side])
            case .gru(let steps, let batch, let input, let hidden):
                return (GRU(inputSize: input, hiddenSize: hidden, using: &generator), [steps, batch, input])
            case .attention(let batch, let sequence, let embed, let heads):
                return (MultiHeadAttention(embedDimension: embed, heads: heads, using: &generator), [batch, sequence, embed])
            }
        }
        let (manual, shape) = make()
        self.manual = manual
        self.autodiff = make().0
        autodiff.useAutodiff = true
        var generator = SeededGenerator(seed: 2)
        input = Tensor.randomUniform(shape: shape, in: -1..<1, using: &generator)
        let output = manual.forward(input)
        upstream = Tensor.randomUniform(shape: output.shape, in: -1..<1, using: &generator)
        switch benchmark.layer {
        case .dense(let batch, let inputSize, let outputSize):
            gemms = [(false, true, batch, outputSize, inputSize), (true, false, outputSize, inputSize, batch),
                     (false, false, batch, inputSize, outputSize)]
        case .conv(let s, let inputGradient):
            let (rows, columns) = (s.inChannels * s.kernelHeight * s.kernelWidth, s.batch * s.outHeight * s.outWidth)
            gemms = [(false, false, s.outChannels, columns, rows), (false, true, s.outChannels, rows, columns)]
                + (inputGradient ? [(true, false, rows, columns, s.outChannels)] : [])
        case .batchNorm, .layerNorm, .lstm, .gru, .attention, .convTranspose, .depthwise, .conv1D, .instanceNorm, .rmsNorm,
             .transformer:
            break
        }
        buffers = gemms.map { ta, tb, m, n, k in
            (AlignedBuffer(randomCount: m * k, seed: 3), AlignedBuffer(randomCount: k * n, seed: 4),
             AlignedBuffer(count: m * n))
        }
        check(benchmark.name)
    }

    func forward() { blackHole(manual.forward(input)) }
    func manualStep() {
        _ = manual.forward(input)
        blackHole(manual.backward(upstream))
    }
    func autodiffStep() {
        _ = autodiff.forward(input)
        blackHole(autodiff.backward(upstream))
    }
    func gemmsOnly() {
        for ((ta, tb, m, n, k), (a, b, c)) in zip(gemms, buffers) {
            BLAS.gemm(
                transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: a.readOnly, lda: ta ? m : k,
                b: b.readOnly, ldb: tb ? k : n, c: c.pointer, ldc: n)
        }
    }

    /// Both paths give the same output and gradients (to Float rounding).
    private func check(_ what: String) {
        autodiff.randomStates = manual.randomStates  // the same dropout masks on both paths
        let outputs = (manual.forward(input), autodiff.forward(input))
        let inputGradients = (manual.backward(upstream), autodiff.backward(upstream))
        func agree(_ name: String, _ a: Tensor<Float>, _ b: Tensor<Float>) {
            a.withUnsafeBufferPointer { x in
                b.withUnsafeBufferPointer { y in checkAgreement("\(what) \(name)", x, y, tolerance: 1e-3) }
            }
        }
        agree("output", outputs.0, outputs.1)
        if let a = inputGradients.0, let b = inputGradients.1 { agree("input gradient", a, b) }
        for (a, b) in zip(manual.parameters, autodiff.parameters) { agree(a.name, a.gradient!, b.gradient!) }
    }
}

func registerLayerBenchmarks() {
    for layer in Catalog.layerBenchmarks {
        Benchmark(layer.name, configuration: .timing(layer.kernels, maxDuration: .seconds(2))) {
            (benchmark: Benchmark, state: LayerState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.manualStep), (.autodiff, state.autodiffStep), (.layerForward, state.forward)]
                    + (layer.hasGemms ? [(.layerGemms, state.gemmsOnly)] : []))
        } setup: {
            LayerState(layer)
        }
    }
}
