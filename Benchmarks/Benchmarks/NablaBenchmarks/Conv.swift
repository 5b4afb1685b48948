import BenchCatalog
import Benchmark
import Nabla

/// An NCHW input and an `[O, C, kh, kw]` filter, as Tensors for `conv2d` and as plain buffers
/// (the same scalars) for the direct naive kernel.
final class ConvState: @unchecked Sendable {
    let shape: ConvShape
    let geometry: Convolution2DGeometry
    let configuration: Convolution2DConfiguration
    let inputBuffer: AlignedBuffer<Float>
    let filterBuffer: AlignedBuffer<Float>
    let output: AlignedBuffer<Float>
    let input: Tensor<Float>
    let filter: Tensor<Float>
    /// sgemm n = 512 through `BLAS.gemm`, timed in the same iterations for the conv ÷ sgemm ratio.
    let referenceGemm = GemmState<Float>(Catalog.convReferenceGemm)
    let counter = IterationCounter()

    init(_ shape: ConvShape) {
        self.shape = shape
        configuration = Convolution2DConfiguration(
            stride: shape.stride, padding: shape.padding, dilation: 1)
        geometry = Convolution2DGeometry(
            batch: shape.batch, channels: shape.inChannels, height: shape.height,
            width: shape.width, kernelHeight: shape.kernelHeight, kernelWidth: shape.kernelWidth,
            configuration: configuration)
        let inputShape = [shape.batch, shape.inChannels, shape.height, shape.width]
        let filterShape = [
            shape.outChannels, shape.inChannels, shape.kernelHeight, shape.kernelWidth,
        ]
        inputBuffer = AlignedBuffer(randomCount: inputShape.reduce(1, *), seed: 6)
        filterBuffer = AlignedBuffer(randomCount: filterShape.reduce(1, *), seed: 7)
        output = AlignedBuffer(
            count: shape.batch * shape.outChannels * shape.outHeight * shape.outWidth)
        input = Tensor(shape: inputShape, scalars: Array(inputBuffer.readOnly))
        filter = Tensor(shape: filterShape, scalars: Array(filterBuffer.readOnly))
    }

    /// im2col + GEMM through the Tensor API (allocates its result).
    func nabla() {
        blackHole(conv2d(input, filter: filter, configuration: configuration))
    }

    /// The direct seven-deep loop into a preallocated output.
    func naive() {
        NaiveKernels.convolution2D(
            geometry, input: inputBuffer.readOnly, filter: filterBuffer.readOnly,
            output: output.pointer)
    }

    func check() {
        let result = conv2d(input, filter: filter, configuration: configuration)
        precondition(
            result.shape == [shape.batch, shape.outChannels, shape.outHeight, shape.outWidth])
        naive()
        result.withUnsafeBufferPointer {
            checkAgreement("conv2d \(shape.label)", $0, output.readOnly, tolerance: 1e-4)
        }
    }
}

func registerConvBenchmarks() {
    for shape in Catalog.convShapes {
        // The direct loop takes a few hundred ms at 32→64: fewer, longer samples.
        let configuration: Benchmark.Configuration =
            shape.flops > 1e8
            ? .timing(shape.kernels, maxDuration: .seconds(6), maxIterations: 13)
            : .timing(shape.kernels)
        Benchmark(shape.name, configuration: configuration) {
            (benchmark: Benchmark, state: ConvState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.nabla), (.referenceGemm, state.referenceGemm.nabla)],
                trailing: [(.naive, state.naive)])
        } setup: {
            let state = ConvState(shape)
            state.check()
            return state
        }
    }
}
