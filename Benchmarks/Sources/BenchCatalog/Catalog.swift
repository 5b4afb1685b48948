/// What the suite measures, shared by the benchmarks (`NablaBenchmarks`) and the report
/// (`BenchReport`): shapes, benchmark names, kernel labels and work counts.
///
/// Every benchmark times several kernels on the same buffers, interleaved within each iteration,
/// and records as custom metrics each kernel's wall-clock nanoseconds per call and, for every
/// reference kernel, Nabla's speedup over it in that same iteration. The report's absolute
/// numbers are medians of the times; its ratios are medians of the paired speedups, which a
/// shared, noisy machine disturbs far less than a ratio of two medians, let alone of two runs.

/// A kernel timed inside a benchmark; its raw value names the custom metric (nanoseconds).
public enum Kernel: String, CaseIterable, Sendable {
    /// Nabla's public API (`BLAS.gemm`, `BLAS.transpose`, `conv2d`, Tensor operators).
    case nabla = "nabla ns"
    /// A raw `cblas_?gemm` call, no validation.
    case raw = "raw cblas ns"
    /// `NaiveKernels` (triple loops, direct convolution).
    case naive = "naive ns"
    /// A hand-written loop over `UnsafeBufferPointer`.
    case hand = "hand loop ns"
    /// Nabla's `BLAS.gemm` on ``Catalog/convReferenceGemm`` (sgemm n = 512), timed inside the
    /// convolution benchmarks so that conv GFLOP/s ÷ sgemm GFLOP/s is a paired ratio too.
    case referenceGemm = "sgemm n=512 ns"
    /// The autodiff benchmarks' reference: the same work through direct Tensor kernels, no tape
    /// (the tape path is `nabla`).
    case direct = "direct ns"
    /// The same `TensorOperations` op with no tape recording: the op path without a node, so
    /// tape ÷ this is the cost of recording alone.
    case untaped = "ops no tape ns"
    /// A layer's manual forward alone (the layer benchmarks' `nabla` is manual forward+backward).
    case layerForward = "layer forward ns"
    /// A layer's forward+backward on the autodiff path.
    case autodiff = "autodiff fwd+bwd ns"
    /// The GEMMs a layer's forward+backward must spend, called directly on preallocated buffers.
    case layerGemms = "its GEMMs ns"

    /// The custom metric holding, per iteration, `time(self) / time(nabla) × ratioScale`: how
    /// many times faster Nabla's kernel was than this one in the same iteration.
    public var pairedSpeedupMetricName: String { "nabla speedup vs \(rawValue.dropLast(3)) x1e4" }

    /// Paired ratios are recorded as integers scaled by this.
    public static let ratioScale = 10_000.0
}

/// `Float` or `Double`, by name.
public enum ScalarName: String, CaseIterable, Sendable {
    case float = "Float"
    case double = "Double"
}

/// A GEMM shape: `[m × k] · [k × n]`.
public struct GemmShape: Sendable {
    public let m: Int
    public let n: Int
    public let k: Int
    /// Short label for the table, e.g. `n=256` or `64×784·784×256`.
    public let label: String
    /// Whether the naive triple loop is timed too (it is skipped for the largest shapes).
    public let timesNaive: Bool

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    public func name(_ scalar: ScalarName) -> String { "gemm \(scalar.rawValue) \(label)" }

    public var kernels: [Kernel] { timesNaive ? [.nabla, .raw, .naive] : [.nabla, .raw] }
}

/// A row-major `[rows × columns]` matrix transposed out of place.
public struct TransposeShape: Sendable {
    public let rows: Int
    public let columns: Int
    public var label: String { "\(rows)×\(columns)" }
    public var name: String { "transpose Float \(label)" }
    /// Bytes read plus bytes written.
    public var bytes: Double { 2 * Double(rows * columns * MemoryLayout<Float>.stride) }
    public var kernels: [Kernel] { [.nabla, .naive] }
}

/// An NCHW convolution forward pass with an `[O, C, kh, kw]` filter.
public struct ConvShape: Sendable {
    public let batch: Int
    public let inChannels: Int
    public let outChannels: Int
    public let height: Int
    public let width: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    public let padding: Int

    public var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }

    /// `2 · N · O · C · kh · kw · oh · ow`.
    public var flops: Double {
        2 * Double(batch * outChannels * inChannels * kernelHeight * kernelWidth)
            * Double(outHeight * outWidth)
    }

    public var label: String {
        "N\(batch) \(inChannels)→\(outChannels) \(height)×\(width) \(kernelHeight)×\(kernelWidth)"
    }
    public var name: String { "conv2d Float \(label)" }
    public var kernels: [Kernel] { [.nabla, .naive, .referenceGemm] }
}

/// An elementwise operation or reduction over ``Catalog/elementwiseCount`` Floats.
public enum ElementwiseOp: String, CaseIterable, Sendable {
    case add = "a + b"
    case multiply = "a * b"
    case exp = "exp(a)"
    case sum = "a.sum()"

    public var name: String { "elementwise Float \(rawValue)" }
    public var kernels: [Kernel] { [.nabla, .hand] }
    /// Bytes read plus bytes written per call.
    public func bytes(count: Int) -> Double {
        let arrays: Int
        switch self {
        case .add, .multiply: arrays = 3
        case .exp: arrays = 2
        case .sum: arrays = 1
        }
        return Double(arrays * count * MemoryLayout<Float>.stride)
    }
}

/// An autodiff benchmark: the tape path (`Kernel.nabla`) against the direct Tensor kernels
/// (`Kernel.direct`), interleaved in the same iterations.
public struct AutodiffCase: Sendable {
    public enum Work: Sendable {
        /// Forward only, fresh non-persistent tape per call: `exp` on `count` Floats.
        case recordExp(count: Int)
        /// Forward only: `[n × n] · [n × n]`.
        case recordMatmul(n: Int)
        /// Backward on a persistent tape: d/dA and d/dW of `[m × k] · [k × n]`.
        case backwardMatmul(m: Int, k: Int, n: Int)
        /// Backward on a persistent tape: d/dInput (unless the input is a constant) and d/dFilter.
        case backwardConv(ConvShape, inputGradient: Bool)
    }

    public let work: Work
    public let label: String
    /// Calls per timed sample (tiny ops are timed in batches); stored times are per sample.
    public let repeats: Int

    public var name: String { "autodiff \(label)" }
    public var kernels: [Kernel] { isRecording ? [.nabla, .direct, .untaped] : [.nabla, .direct] }
    public var isRecording: Bool {
        switch work {
        case .recordExp, .recordMatmul: true
        case .backwardMatmul, .backwardConv: false
        }
    }
}

/// A gradient through ten differentiable ops on a `[size, size]` Float input, for allocations:
/// the tape (record + gradient, non-persistent) and the same forward ops on Tensors, each in a
/// benchmark of its own whose framework metrics (mallocs, resident memory) cover that path alone.
public enum AutodiffChain {
    public static let size = 256
    public static let operationCount = 10
    public static let label = "chain10 \(size)×\(size)"
    /// Metrics cover the tape path (`Kernel.nabla`).
    public static let tapeName = "autodiff \(label) tape"
    /// Metrics cover the direct forward (`Kernel.direct`).
    public static let directName = "autodiff \(label) direct"
    public static let kernels: [Kernel] = [.nabla, .direct]
    /// The framework metrics' names in the JMH export.
    public static let mallocMetric = "Malloc (total)"
    public static let peakResidentMetric = "Memory (resident peak)"
    public static let peakResidentDeltaMetric = "Memory Δ (resident peak)"
}

/// A layer benchmark in `Float`: its manual forward (`Kernel.layerForward`), manual
/// forward+backward (`Kernel.nabla`), autodiff forward+backward (`Kernel.autodiff`) and, for
/// layers built on GEMM, the GEMMs it must spend (`Kernel.layerGemms`), interleaved.
public struct LayerBenchmark: Sendable {
    public enum Layer: Sendable {
        /// `Dense(input → output)` on `[batch, input]`.
        case dense(batch: Int, input: Int, output: Int)
        /// `Conv2D` with the shape's channels, kernel, stride and padding; without input gradient
        /// as a network's first layer.
        case conv(ConvShape, inputGradient: Bool)
        /// `BatchNorm` over the channels of an NCHW input of `shape`, in training.
        case batchNorm(shape: [Int])
        /// `LayerNorm` over the last three axes of an NCHW input of `shape`.
        case layerNorm(shape: [Int])
        /// `LSTM` or `GRU` over `[steps, batch, input]`, the whole sequence returned.
        case lstm(steps: Int, batch: Int, input: Int, hidden: Int, layers: Int = 1)
        case gru(steps: Int, batch: Int, input: Int, hidden: Int)
        /// `ConvTranspose2D` 4×4, stride 2, padding 1, over `[batch, input, side, side]`.
        case convTranspose(batch: Int, input: Int, output: Int, side: Int)
        /// A depthwise `Conv2D` 3×3, padding 1, over `[batch, channels, side, side]`.
        case depthwise(batch: Int, channels: Int, side: Int)
        /// `Conv1D` kernel 5, padding 2, over `[batch, input, length]`.
        case conv1D(batch: Int, input: Int, output: Int, length: Int)
        /// `InstanceNorm2D` (affine) or `RMSNorm` over the channels' positions / the last axis.
        case instanceNorm(shape: [Int])
        case rmsNorm(shape: [Int])
        /// A `TransformerEncoderLayer` (dropout 0.1, batch first) over `[batch, sequence, dModel]`.
        case transformer(batch: Int, sequence: Int, dModel: Int, heads: Int, feedForward: Int)
        /// Self-attention over `[batch, sequence, embed]`.
        case attention(batch: Int, sequence: Int, embed: Int, heads: Int)
    }

    public let layer: Layer
    public let label: String

    public var name: String { "layer \(label)" }
    public var hasGemms: Bool {
        switch layer {
        case .dense, .conv: true
        case .batchNorm, .layerNorm, .lstm, .gru, .attention, .convTranspose, .depthwise, .conv1D, .instanceNorm,
             .rmsNorm, .transformer: false
        }
    }
    public var kernels: [Kernel] {
        [.nabla, .layerForward, .autodiff] + (hasGemms ? [.layerGemms] : [])
    }
}

public enum Catalog {
    public static let gemmShapes: [GemmShape] =
        [64, 128, 256, 512, 1024].map {
            GemmShape(m: $0, n: $0, k: $0, label: "n=\($0)", timesNaive: $0 <= 512)
        } + [
            // Dense layers at batch 64: [64 × 784]·[784 × 256] and [64 × 1024]·[1024 × 1024].
            GemmShape(m: 64, n: 256, k: 784, label: "64×784·784×256", timesNaive: true),
            GemmShape(m: 64, n: 1024, k: 1024, label: "64×1024·1024×1024", timesNaive: true),
        ]

    public static let transposeShapes: [TransposeShape] = [
        TransposeShape(rows: 1024, columns: 1024),
        TransposeShape(rows: 4096, columns: 256),
    ]

    /// The Fashion-MNIST CNN's two convolutions at batch 32.
    public static let convShapes: [ConvShape] = [
        ConvShape(
            batch: 32, inChannels: 1, outChannels: 32, height: 28, width: 28,
            kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        ConvShape(
            batch: 32, inChannels: 32, outChannels: 64, height: 14, width: 14,
            kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
    ]

    /// The sgemm shape whose GFLOP/s the 32→64 convolution is compared with.
    public static let convReferenceGemm = gemmShapes[3]  // n = 512

    public static let elementwiseCount = 1 << 20

    /// Issue 7's layer benchmarks: Dense at batch 64, the CNN's convolutions at batch 32, and
    /// the normalizations on those convolutions' activations.
    public static let layerBenchmarks: [LayerBenchmark] = [
        LayerBenchmark(layer: .dense(batch: 64, input: 784, output: 256), label: "Dense 64×784→256"),
        LayerBenchmark(layer: .dense(batch: 64, input: 1024, output: 1024), label: "Dense 64×1024→1024"),
    ] + convShapes.flatMap { shape in
        [LayerBenchmark(layer: .conv(shape, inputGradient: true), label: "Conv2D \(shape.label)"),
         LayerBenchmark(layer: .conv(shape, inputGradient: false), label: "Conv2D \(shape.label) first layer")]
    } + convShapes.flatMap { shape in
        let activation = [shape.batch, shape.outChannels, shape.outHeight, shape.outWidth]
        return [LayerBenchmark(layer: .batchNorm(shape: activation), label: "BatchNorm \(activation)"),
                LayerBenchmark(layer: .layerNorm(shape: activation), label: "LayerNorm \(activation)")]
    } + [
        // Issue 8's recurrent and attention layers.
        LayerBenchmark(layer: .lstm(steps: 32, batch: 32, input: 64, hidden: 128), label: "LSTM T32 B32 64→128"),
        LayerBenchmark(layer: .gru(steps: 32, batch: 32, input: 64, hidden: 128), label: "GRU T32 B32 64→128"),
        LayerBenchmark(layer: .attention(batch: 16, sequence: 64, embed: 128, heads: 4), label: "Attention B16 S64 E128 4 heads"),
        // Layers III: a DCGAN generator block and a two-layer LSTM language model's recurrence.
        LayerBenchmark(layer: .convTranspose(batch: 64, input: 128, output: 64, side: 7), label: "ConvTranspose2D N64 128→64 7×7→14×14"),
        LayerBenchmark(layer: .lstm(steps: 35, batch: 20, input: 128, hidden: 128, layers: 2), label: "LSTM 2 layers T35 B20 128→128"),
        LayerBenchmark(layer: .depthwise(batch: 32, channels: 32, side: 28), label: "Conv2D depthwise N32 32 28×28 3×3"),
        LayerBenchmark(layer: .conv1D(batch: 32, input: 64, output: 64, length: 128), label: "Conv1D N32 64→64 L128 k5"),
        LayerBenchmark(layer: .instanceNorm(shape: [32, 32, 28, 28]), label: "InstanceNorm2D [32, 32, 28, 28]"),
        LayerBenchmark(layer: .rmsNorm(shape: [32, 64, 256]), label: "RMSNorm [32, 64, 256]"),
        LayerBenchmark(
            layer: .transformer(batch: 16, sequence: 64, dModel: 128, heads: 4, feedForward: 512),
            label: "TransformerEncoderLayer B16 S64 E128 ff512"),
    ]

    public static let autodiffCases: [AutodiffCase] = {
        var cases = [
            AutodiffCase(work: .recordExp(count: 64), label: "record exp 64", repeats: 1000),
            AutodiffCase(work: .recordExp(count: 1 << 20), label: "record exp 1M", repeats: 1),
            AutodiffCase(work: .recordMatmul(n: 512), label: "record matmul 512×512·512×512", repeats: 1),
            // The Fashion-MNIST CNN's dense layer at batch 32.
            AutodiffCase(
                work: .backwardMatmul(m: 32, k: 3136, n: 128),
                label: "backward matmul 32×3136·3136×128", repeats: 1),
        ]
        for shape in convShapes {
            cases.append(AutodiffCase(
                work: .backwardConv(shape, inputGradient: true),
                label: "backward conv2d \(shape.label)", repeats: 1))
            cases.append(AutodiffCase(
                work: .backwardConv(shape, inputGradient: false),
                label: "backward conv2d \(shape.label) filter only", repeats: 1))
        }
        return cases
    }()
}

/// Issue 11's workloads, timed against PyTorch by `make compare-torch` (`nabla-speed` here,
/// `torch/workloads.py` there) and in the suite. Names and definitions are spelled identically
/// on both sides; the driver refuses to pair two results whose definitions differ.
public enum ComparisonWorkload: String, CaseIterable, Sendable {
    case dense784Forward = "dense-784-256-fwd"
    case dense784ForwardBackward = "dense-784-256-fwdbwd"
    case dense1024Forward = "dense-1024-1024-fwd"
    case dense1024ForwardBackward = "dense-1024-1024-fwdbwd"
    case conv1to32Forward = "conv-1-32-fwd"
    case conv1to32ForwardBackward = "conv-1-32-first-fwdbwd"
    case conv32to64Forward = "conv-32-64-fwd"
    case conv32to64ForwardBackward = "conv-32-64-fwdbwd"
    /// Layers III: a DCGAN generator block and a two-layer LSTM language model's recurrence.
    case convTranspose128to64Forward = "convtranspose-128-64-fwd"
    case convTranspose128to64ForwardBackward = "convtranspose-128-64-fwdbwd"
    case lstm2LayersForwardBackward = "lstm-2x128-fwdbwd"
    /// Nabla only: the same LSTM on the autodiff path, compared with Nabla's manual one.
    case lstmAutodiffForwardBackward = "lstm-2x128-autodiff-fwdbwd"
    case depthwise32ForwardBackward = "conv-depthwise-32-fwdbwd"
    case mlpStep = "mlp-step"
    case cnnStep = "cnn-step"
    /// Nabla only: the CNN step on the autodiff path, compared with Nabla's manual `cnnStep`.
    case cnnAutodiffStep = "cnn-autodiff-step"
    case mlpEpoch = "mlp-epoch"
    case cnnEpoch = "cnn-epoch"

    public enum Kind: Sendable { case layer, step, epoch }

    public var kind: Kind {
        switch self {
        case .mlpStep, .cnnStep, .cnnAutodiffStep: .step
        case .mlpEpoch, .cnnEpoch: .epoch
        default: .layer
        }
    }

    /// What one timed iteration does; `torch/workloads.py` prints the same text.
    public var definition: String {
        let data = "Fashion-MNIST in order, pixels/255, PyTorch default init, mean cross-entropy, Adam lr 1e-3"
        switch self {
        case .dense784Forward: return "Dense 784→256, batch 64, forward"
        case .dense784ForwardBackward:
            return "Dense 784→256, batch 64, zero grads + forward + backward (input gradient, random upstream)"
        case .dense1024Forward: return "Dense 1024→1024, batch 64, forward"
        case .dense1024ForwardBackward:
            return "Dense 1024→1024, batch 64, zero grads + forward + backward (input gradient, random upstream)"
        case .conv1to32Forward: return "Conv2D 3×3 pad 1, 1→32, 28×28, batch 32, forward"
        case .conv1to32ForwardBackward:
            return "Conv2D 3×3 pad 1, 1→32, 28×28, batch 32, zero grads + forward + backward (first layer: no input gradient, random upstream)"
        case .conv32to64Forward: return "Conv2D 3×3 pad 1, 32→64, 14×14, batch 32, forward"
        case .conv32to64ForwardBackward:
            return "Conv2D 3×3 pad 1, 32→64, 14×14, batch 32, zero grads + forward + backward (input gradient, random upstream)"
        case .convTranspose128to64Forward:
            return "ConvTranspose2D 4×4 stride 2 pad 1, 128→64, 7×7→14×14, batch 64, forward"
        case .convTranspose128to64ForwardBackward:
            return "ConvTranspose2D 4×4 stride 2 pad 1, 128→64, 7×7→14×14, batch 64, zero grads + forward + backward (input gradient, random upstream)"
        case .depthwise32ForwardBackward:
            return "Conv2D depthwise 3×3 pad 1, 32 channels, 28×28, batch 32, zero grads + forward + backward (input gradient, random upstream)"
        case .lstm2LayersForwardBackward:
            return "LSTM 2 layers 128→128, 35 steps, batch 20, zero grads + forward + backward (input gradient, random upstream)"
        case .lstmAutodiffForwardBackward:
            return "LSTM 2 layers 128→128, 35 steps, batch 20, zero grads + forward + backward on the autodiff path (input gradient, random upstream)"
        case .mlpStep: return "MLP 784-256-128-10 ReLU, one training step, batch 128; \(data)"
        case .cnnStep: return "CNN conv32-pool-conv64-pool-dense128-dense10, one training step, batch 64; \(data)"
        case .cnnAutodiffStep:
            return "CNN conv32-pool-conv64-pool-dense128-dense10, one training step on the autodiff path, batch 64; \(data)"
        case .mlpEpoch: return "MLP 784-256-128-10 ReLU, one epoch of 60000 images, batch 128 (last batch 96); \(data)"
        case .cnnEpoch: return "CNN conv32-pool-conv64-pool-dense128-dense10, one epoch of 60000 images, batch 64 (last batch 32); \(data)"
        }
    }

    /// The name of its benchmark in the suite.
    public var benchmarkName: String { "compare \(rawValue)" }

    /// The workloads the suite times: all but the epochs (tens of seconds each), the CNN's
    /// autodiff step, timed as `Kernel.autodiff` inside `cnnStep`'s iterations, and the autodiff
    /// LSTM, which the layer benchmarks time beside its manual path.
    public static let suite = allCases.filter {
        $0.kind != .epoch && $0 != .cnnAutodiffStep && $0 != .lstmAutodiffForwardBackward
    }

    /// The kernels its suite benchmark times: the workload (`nabla`), and for `cnnStep` also the
    /// autodiff step, so that autodiff ÷ manual is a paired ratio.
    public var suiteKernels: [Kernel] { self == .cnnStep ? [.nabla, .autodiff] : [.nabla] }
}
