import CNablaKernels

// Convolutions with few input channels, such as a network's first layer (1 or 3 channels).
//
// Batched im2col + GEMM is a poor fit there: with k = C·kh·kw ≈ 9 the GEMM is short and wide,
// its [O, N·oh·ow] product must be permuted into NCHW, and the filter gradient must permute the
// upstream gradient the other way first. This path writes and reads NCHW directly instead:
//
// - direct loops (stride 1, no dilation) when O·C is small enough for the level: a vector of
//   outputs accumulates weight × shifted input over all taps, in registers (in C with FMA at
//   the AVX2 and AVX-512 levels, see CNablaKernels/FewChannelScalar.h; in Swift on SSE2 at the
//   portable level);
// - otherwise one small GEMM per image, straight into (or from) the image's NCHW block, with
//   the bias fused into the forward GEMM (beta = 1) and the bias gradient summed per image.
//
// The crossovers depend on the level: see ``directForwardLimit(_:)`` and
// ``directFilterLimit(_:)``.

/// Convolution kernels for inputs with few channels (``maximumChannels`` at most), reading and
/// writing NCHW directly: no batch-wide im2col matrix and no permutation.
public enum FewChannelConvolutionKernels {
    /// The most input channels this path takes; more go through batched im2col + GEMM.
    public static let maximumChannels = 4
    /// Direct forward loops up to this `O·C` at `level` (above it, per-image GEMMs).
    ///
    /// Measured at 1 thread, Float, batch 32, 3×3, padding 1, on an AMD EPYC Zen 5:
    /// - portable (SSE2 Swift loops): O·C ≤ 4; at 1→32, 28×28 Nabla's per-image GEMMs took
    ///   0.19 ms, the loops 0.36;
    /// - AVX2 and AVX-512 (the C loops), against im2col + OpenBLAS sgemm per image (its AVX2
    ///   kernel at every level): at 1→32, 28×28 the loops take 0.14 (AVX2) and 0.08 ms
    ///   (AVX-512) where Nabla's GEMMs take 0.19; at 4→64 1.08 and 0.54 ms against 1.64; at
    ///   3→128 (O·C = 384) 1.62 and 0.82 ms against 2.08. AVX-512 runs near the FMA peak and
    ///   wins everywhere measured (8×8 to 56×56), so 512; AVX2's margin shrinks above 256.
    @inlinable
    static func directForwardLimit(_ level: SIMDLevel) -> Int {
        switch level {
        case .portable: 4
        case .avx2: 256
        case .avx512: 512
        }
    }

    /// Direct filter-gradient loops up to this `O·C` at `level` (above it, per-image GEMMs).
    ///
    /// Measured as ``directForwardLimit(_:)``: portable O·C ≤ 8 (at 1→32 the GEMMs took
    /// 0.31 ms, the loops 0.40); the C loops win everywhere measured: at 1→32, 28×28 0.20 (AVX2)
    /// and 0.12 ms (AVX-512) where Nabla's GEMMs take 0.31; at 3→128 3.09 and 2.12 ms against
    /// 4.40. So 256 and 512, as for the forward.
    @inlinable
    static func directFilterLimit(_ level: SIMDLevel) -> Int {
        switch level {
        case .portable: 8
        case .avx2: 256
        case .avx512: 512
        }
    }

    /// Per-image GEMMs need at least this many outputs per image to beat one batched GEMM.
    @usableFromInline static let minimumGemmPlane = 256

    /// Whether the direct loops support `geometry`: stride 1 and no dilation.
    @inlinable
    public static func supportsDirect(_ geometry: Convolution2DGeometry) -> Bool {
        let c = geometry.configuration
        return c.strideHeight == 1 && c.strideWidth == 1 && c.dilationHeight == 1
            && c.dilationWidth == 1
    }

    /// Whether the forward convolution takes this path (direct loops or per-image GEMMs).
    @inlinable
    public static func handlesForward(_ geometry: Convolution2DGeometry, outputChannels: Int) -> Bool {
        guard geometry.channels <= maximumChannels, geometry.batch > 0 else { return false }
        return usesDirectForward(geometry, outputChannels: outputChannels)
            || geometry.outputHeight * geometry.outputWidth >= minimumGemmPlane
    }

    /// Whether the filter gradient takes this path (direct loops or per-image GEMMs).
    @inlinable
    public static func handlesFilterGradient(
        _ geometry: Convolution2DGeometry, outputChannels: Int
    ) -> Bool {
        guard geometry.channels <= maximumChannels, geometry.batch > 0 else { return false }
        return usesDirectFilterGradient(geometry, outputChannels: outputChannels)
            || geometry.outputHeight * geometry.outputWidth >= minimumGemmPlane
    }

    /// Whether the forward takes the direct loops at `level` (by default the level the family
    /// runs at now).
    @inlinable
    static func usesDirectForward(
        _ geometry: Convolution2DGeometry, outputChannels: Int,
        level: SIMDLevel = KernelFamily.fewChannelConvolution.level
    ) -> Bool {
        supportsDirect(geometry) && outputChannels * geometry.channels <= directForwardLimit(level)
    }

    /// Whether the filter gradient takes the direct loops at `level` (by default the level the
    /// family runs at now).
    @inlinable
    static func usesDirectFilterGradient(
        _ geometry: Convolution2DGeometry, outputChannels: Int,
        level: SIMDLevel = KernelFamily.fewChannelConvolution.level
    ) -> Bool {
        supportsDirect(geometry) && outputChannels * geometry.channels <= directFilterLimit(level)
    }

    // MARK: Tensor level

    /// ``conv2d(_:filter:configuration:groups:)`` plus `bias` per output channel, for a geometry that
    /// ``handlesForward(_:outputChannels:)`` accepts (checked by the caller).
    ///
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - filter: `[O, C, kh, kw]`.
    ///   - bias: `[O]`, or `nil` for none.
    ///   - geometry: The convolution's sizes, stride, padding and dilation, matching `input` and
    ///     `filter`.
    /// - Returns: `[N, O, oh, ow]`.
    @inlinable
    public static func conv2d<S: TensorScalar>(
        _ input: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>?, geometry: Convolution2DGeometry
    ) -> Tensor<S> {
        let outputChannels = filter.shape[0]
        let shape = [geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth]
        return Tensor(unsafeUninitializedShape: shape) { output in
            input.withUnsafeBufferPointer { input in
                filter.withUnsafeBufferPointer { filter in
                    withOptionalBuffer(bias) { bias in
                        forward(geometry, input: input, filter: filter, bias: bias, output: output)
                    }
                }
            }
        }
    }

    /// ``conv2dBackwardFilter(_:input:filterShape:configuration:groups:)`` and, if asked, the bias
    /// gradient `Σ_{n,y,x} outputGradient[n, o, y, x]`, for a geometry that
    /// ``handlesFilterGradient(_:outputChannels:)`` accepts (checked by the caller).
    ///
    /// - Parameters:
    ///   - outputGradient: `[N, O, oh, ow]`.
    ///   - input: `[N, C, H, W]`, the convolution's input.
    ///   - filterShape: `[O, C, kh, kw]`.
    ///   - geometry: The convolution's sizes, stride, padding and dilation, matching `input` and
    ///     `filterShape`.
    ///   - computesBiasGradient: Whether to also sum the bias gradient in the same pass.
    /// - Returns: the filter gradient `[O, C, kh, kw]` and the bias gradient `[O]` (or `nil`).
    @inlinable
    public static func conv2dBackwardFilter<S: TensorScalar>(
        _ outputGradient: Tensor<S>, input: Tensor<S>, filterShape: [Int],
        geometry: Convolution2DGeometry, computesBiasGradient: Bool
    ) -> (filter: Tensor<S>, bias: Tensor<S>?) {
        let outputChannels = filterShape[0]
        var biasGradient = computesBiasGradient ? Tensor<S>(repeating: 0, shape: [outputChannels]) : nil
        let filterGradient = Tensor<S>(unsafeUninitializedShape: filterShape) { filterGradient in
            outputGradient.withUnsafeBufferPointer { gradient in
                input.withUnsafeBufferPointer { input in
                    withOptionalMutableBuffer(&biasGradient) { bias in
                        self.filterGradient(
                            geometry, outputGradient: gradient, input: input,
                            filterGradient: filterGradient, biasGradient: bias)
                    }
                }
            }
        }
        return (filterGradient, biasGradient)
    }

    @inlinable
    static func withOptionalBuffer<S: TensorScalar>(
        _ tensor: Tensor<S>?, _ body: (UnsafeBufferPointer<S>?) -> Void
    ) {
        guard let tensor else { return body(nil) }
        tensor.withUnsafeBufferPointer { body($0) }
    }

    @inlinable
    static func withOptionalMutableBuffer<S: TensorScalar>(
        _ tensor: inout Tensor<S>?, _ body: (UnsafeMutableBufferPointer<S>?) -> Void
    ) {
        guard tensor != nil else { return body(nil) }
        tensor!.withUnsafeMutableBufferPointer { body($0) }
    }

    // MARK: Buffer level

    /// Writes `conv2d(input, filter) + bias` into `output`, by direct loops or per-image GEMMs.
    ///
    /// Shapes: `input` `[N, C, H, W]`, `filter` `[O, C, kh, kw]`, `bias` `[O]` or `nil`, `output`
    /// `[N, O, oh, ow]`, all contiguous, sizes from `geometry`. `output` is overwritten.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func forward<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, bias: UnsafeBufferPointer<S>?,
        output: UnsafeMutableBufferPointer<S>
    ) {
        let outputChannels = checkBuffers(
            "FewChannelConvolutionKernels.forward", geometry, input: input.count,
            filter: filter.count, output: output.count, bias: bias?.count)
        guard geometry.batch > 0 else { return }
        if usesDirectForward(geometry, outputChannels: outputChannels) {
            directForward(
                geometry, outputChannels: outputChannels, input: input, filter: filter, bias: bias,
                output: output)
        } else {
            gemmForward(
                geometry, outputChannels: outputChannels, input: input, filter: filter, bias: bias,
                output: output)
        }
    }

    /// Writes the filter gradient `dW[o,c,i,j] = Σ_n Σ_y Σ_x g[n,o,y,x]·x_pad[n,c,y+i,x+j]` (for
    /// stride 1, no dilation; in general the input element under tap `(i, j)`) into
    /// `filterGradient`, and `Σ_{n,y,x} g[n,o,y,x]` into `biasGradient` if given.
    ///
    /// Shapes: `outputGradient` `[N, O, oh, ow]`, `input` `[N, C, H, W]`, `filterGradient`
    /// `[O, C, kh, kw]`, `biasGradient` `[O]`. Both results are overwritten.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func filterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputGradient: UnsafeBufferPointer<S>,
        input: UnsafeBufferPointer<S>, filterGradient: UnsafeMutableBufferPointer<S>,
        biasGradient: UnsafeMutableBufferPointer<S>?
    ) {
        let outputChannels = checkBuffers(
            "FewChannelConvolutionKernels.filterGradient", geometry, input: input.count,
            filter: filterGradient.count, output: outputGradient.count, bias: biasGradient?.count)
        filterGradient.update(repeating: 0)
        biasGradient?.update(repeating: 0)
        guard geometry.batch > 0 else { return }
        if usesDirectFilterGradient(geometry, outputChannels: outputChannels) {
            directFilterGradient(
                geometry, outputChannels: outputChannels, outputGradient: outputGradient,
                input: input, filterGradient: filterGradient, biasGradient: biasGradient)
        } else {
            gemmFilterGradient(
                geometry, outputChannels: outputChannels, outputGradient: outputGradient,
                input: input, filterGradient: filterGradient, biasGradient: biasGradient)
        }
    }

    /// Checks the buffer sizes against `geometry`; returns the number of output channels.
    @usableFromInline
    static func checkBuffers(
        _ op: String, _ geometry: Convolution2DGeometry, input: Int, filter: Int, output: Int,
        bias: Int?
    ) -> Int {
        let g = geometry
        let window = g.columnRows
        let outputChannels = filter / window
        Misuse.check(
            input == g.inputCount, op,
            "input \(g.inputShape) needs \(g.inputCount) scalars, but its buffer has \(input)")
        Misuse.check(
            outputChannels >= 1 && filter == outputChannels * window, op,
            "filter buffer has \(filter) scalars, not a positive multiple of C·kh·kw = \(window)")
        let outputCount = g.batch * outputChannels * g.outputHeight * g.outputWidth
        Misuse.check(
            output == outputCount, op,
            "output [\(g.batch), \(outputChannels), \(g.outputHeight), \(g.outputWidth)] needs "
                + "\(outputCount) scalars, but its buffer has \(output)")
        if let bias {
            Misuse.check(
                bias == outputChannels, op,
                "bias has \(bias) scalars, but there are \(outputChannels) output channels")
        }
        return outputChannels
    }

    /// Adds a convolution's multiply-adds to the task's ``MultiplyAddCounter``, as a GEMM would.
    @usableFromInline
    static func countMultiplyAdds(_ count: Int) {
        MultiplyAddCounter.current?.add(count)
    }

    // MARK: Direct loops

    /// The images of `batch` in padded planes: for stride 1 and no dilation, output `(y, x)`
    /// reads tap `(i, j)` at `plane[(y + i)·paddedWidth + x + j]`. A "wide" output row runs over
    /// all `paddedWidth` columns, so output position `t = y·paddedWidth + x` reads tap `(i, j)`
    /// at `t + i·paddedWidth + j`: one long contiguous loop per tap, whose last
    /// `paddedWidth − ow` columns per row are discarded (output) or zero (gradient).
    @usableFromInline
    struct PaddedPlanes<S: TensorScalar> {
        @usableFromInline let paddedWidth: Int
        /// Output positions per wide plane, rounded up to whole SIMD blocks.
        @usableFromInline let wideCount: Int
        /// Scalars per padded plane, zero slack included so wide reads stay inside.
        @usableFromInline let planeStride: Int
        @usableFromInline let buffer: UnsafeMutablePointer<S>

        @inlinable
        init(_ geometry: Convolution2DGeometry, block: Int) {
            let c = geometry.configuration
            paddedWidth = geometry.width + 2 * c.paddingWidth
            let paddedHeight = geometry.height + 2 * c.paddingHeight
            wideCount = (geometry.outputHeight * paddedWidth + block - 1) / block * block
            // The largest read is at wideCount − 1 + (kh − 1)·paddedWidth + kw − 1.
            planeStride = max(
                paddedHeight * paddedWidth,
                wideCount + (geometry.kernelHeight - 1) * paddedWidth + geometry.kernelWidth - 1)
            buffer = .allocate(capacity: geometry.channels * planeStride)
            buffer.initialize(repeating: 0, count: geometry.channels * planeStride)
        }

        /// Copies image `image` of `input` into the planes; the padding stays zero.
        @inlinable
        func load(_ geometry: Convolution2DGeometry, image: Int, input: UnsafePointer<S>) {
            let c = geometry.configuration
            let (height, width) = (geometry.height, geometry.width)
            for channel in 0..<geometry.channels {
                let source = input + (image * geometry.channels + channel) * height * width
                let plane = buffer + channel * planeStride
                    + c.paddingHeight * paddedWidth + c.paddingWidth
                for y in 0..<height {
                    (plane + y * paddedWidth).update(from: source + y * width, count: width)
                }
            }
        }

        @inlinable
        func deallocate() { buffer.deallocate() }
    }

    /// The images split in up to `BLAS.threadCount` parts when there is enough work.
    @inlinable
    static func parts(_ geometry: Convolution2DGeometry, multiplyAdds: Int) -> Int {
        // Below about a million multiply-adds per part, waking a thread costs more than it saves.
        Swift.max(1, Swift.min(BLAS.threadCount, geometry.batch, multiplyAdds >> 20))
    }

    /// Runs `body(part, images)` over `parts` disjoint ranges of images, in parallel if
    /// `parts > 1`.
    @inlinable
    static func forEachPart(
        batch: Int, parts: Int, _ body: @Sendable (Int, Range<Int>) -> Void
    ) {
        guard parts > 1 else { return body(0, 0..<batch) }
        WorkerPool.run(parts: parts) { part in
            body(part, (batch * part / parts)..<(batch * (part + 1) / parts))
        }
    }

    @inlinable
    static func directForward<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, bias: UnsafeBufferPointer<S>?,
        output: UnsafeMutableBufferPointer<S>
    ) {
        let g = geometry
        let window = g.columnRows
        let plane = g.outputHeight * g.outputWidth
        countMultiplyAdds(g.batch * outputChannels * window * plane)
        let level = KernelFamily.fewChannelConvolution.levelForRun()
        let buffers = UncheckedSendable((input, filter, bias, output))
        forEachPart(
            batch: g.batch, parts: parts(g, multiplyAdds: g.batch * outputChannels * window * plane)
        ) { _, images in
            let (input, filter, bias, output) = buffers.value
            if level > .portable, vectorDirectForward(
                g, outputChannels: outputChannels, images: images, level: level,
                input: input.baseAddress!, filter: filter.baseAddress!, bias: bias?.baseAddress,
                output: output.baseAddress!)
            {
                return
            }
            directForward(
                g, outputChannels: outputChannels, images: images, input: input.baseAddress!,
                filter: filter.baseAddress!, bias: bias?.baseAddress,
                output: output.baseAddress!)
        }
    }

    /// The sizes of `images` images of `geometry` for the C kernels.
    @inlinable
    static func cShape(
        _ geometry: Convolution2DGeometry, images: Int, outputChannels: Int
    ) -> NablaFewChannelShape {
        let c = geometry.configuration
        return NablaFewChannelShape(
            images: Int64(images), channels: Int64(geometry.channels),
            height: Int64(geometry.height), width: Int64(geometry.width),
            kernelHeight: Int64(geometry.kernelHeight), kernelWidth: Int64(geometry.kernelWidth),
            paddingHeight: Int64(c.paddingHeight), paddingWidth: Int64(c.paddingWidth),
            outputChannels: Int64(outputChannels))
    }


    /// The direct forward of `images` by the C kernel of `level` (AVX2 or AVX-512): every tap
    /// by FMA, in tap order, from the bias. Returns `false` for a scalar type without one.
    @inlinable
    static func vectorDirectForward<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, images: Range<Int>,
        level: SIMDLevel, input: UnsafePointer<S>, filter: UnsafePointer<S>,
        bias: UnsafePointer<S>?, output: UnsafeMutablePointer<S>
    ) -> Bool {
        let g = geometry
        let shape = cShape(g, images: images.count, outputChannels: outputChannels)
        let input = input + images.lowerBound * g.channels * g.height * g.width
        let output = output + images.lowerBound * outputChannels * g.outputHeight * g.outputWidth
        if S.self == Float.self {
            let kernel = level == .avx2 ? nabla_fewchannel_forward_f32_avx2 : nabla_fewchannel_forward_f32_avx512
            kernel(
                shape, cast(input, Float.self), cast(filter, Float.self),
                bias.map { cast($0, Float.self) }, cast(output, Float.self))
        } else if S.self == Double.self {
            let kernel = level == .avx2 ? nabla_fewchannel_forward_f64_avx2 : nabla_fewchannel_forward_f64_avx512
            kernel(
                shape, cast(input, Double.self), cast(filter, Double.self),
                bias.map { cast($0, Double.self) }, cast(output, Double.self))
        } else {
            return false
        }
        return true
    }

    /// The direct forward of `images`: for each output channel, 8 wide outputs at a time sum
    /// weight × shifted input over every tap in registers, then the wide rows are cropped into
    /// the output.
    @inlinable
    static func directForward<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, images: Range<Int>,
        input: UnsafePointer<S>, filter: UnsafePointer<S>, bias: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>
    ) {
        typealias Vector = SIMD8<S>
        let lanes = Vector.scalarCount
        let g = geometry
        let planes = PaddedPlanes<S>(g, block: lanes)
        defer { planes.deallocate() }
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let paddedWidth = planes.paddedWidth
        let wide = UnsafeMutablePointer<S>.allocate(capacity: planes.wideCount)
        defer { wide.deallocate() }
        let taps = g.kernelHeight * g.kernelWidth
        let window = g.channels * taps
        // Tap k's offset into the planes and its weight as a vector, for one output channel.
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: window)
        defer { offsets.deallocate() }
        for channel in 0..<g.channels {
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    offsets[(channel * g.kernelHeight + i) * g.kernelWidth + j] =
                        channel * planes.planeStride + i * paddedWidth + j
                }
            }
        }
        let weights = UnsafeMutablePointer<Vector>.allocate(capacity: window)
        defer { weights.deallocate() }
        let source = UnsafeRawPointer(planes.buffer)
        let stride = MemoryLayout<S>.stride

        for image in images {
            planes.load(g, image: image, input: input)
            for o in 0..<outputChannels {
                for k in 0..<window { weights[k] = Vector(repeating: filter[o * window + k]) }
                let start = Vector(repeating: bias?[o] ?? 0)
                var t = 0
                while t < planes.wideCount {
                    var sum = start
                    for k in 0..<window {
                        sum += weights[k] * source.loadUnaligned(
                            fromByteOffset: (t + offsets[k]) * stride, as: Vector.self)
                    }
                    UnsafeMutableRawPointer(wide + t).storeBytes(of: sum, as: Vector.self)
                    t += lanes
                }
                let target = output + (image * outputChannels + o) * outputHeight * outputWidth
                for y in 0..<outputHeight {
                    (target + y * outputWidth).update(from: wide + y * paddedWidth, count: outputWidth)
                }
            }
        }
    }

    @inlinable
    static func directFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int,
        outputGradient: UnsafeBufferPointer<S>, input: UnsafeBufferPointer<S>,
        filterGradient: UnsafeMutableBufferPointer<S>, biasGradient: UnsafeMutableBufferPointer<S>?
    ) {
        let g = geometry
        let window = g.columnRows
        let multiplyAdds = g.batch * outputChannels * window * g.outputHeight * g.outputWidth
        countMultiplyAdds(multiplyAdds)
        let parts = parts(g, multiplyAdds: multiplyAdds)
        // Each part sums its images into its own [O, C·kh·kw + 1] block (the last column is the
        // bias gradient); the blocks are added at the end.
        let blockSize = outputChannels * (window + 1)
        let partials = UnsafeMutableBufferPointer<S>.allocate(capacity: parts * blockSize)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0)
        let level = KernelFamily.fewChannelConvolution.levelForRun()
        let buffers = UncheckedSendable((outputGradient, input, partials))
        forEachPart(batch: g.batch, parts: parts) { part, images in
            let (outputGradient, input, partials) = buffers.value
            if level > .portable, vectorDirectFilterGradient(
                g, outputChannels: outputChannels, images: images, level: level,
                outputGradient: outputGradient.baseAddress!, input: input.baseAddress!,
                sums: partials.baseAddress! + part * blockSize)
            {
                return
            }
            directFilterGradient(
                g, outputChannels: outputChannels, images: images,
                outputGradient: outputGradient.baseAddress!, input: input.baseAddress!,
                sums: partials.baseAddress! + part * blockSize)
        }
        for o in 0..<outputChannels {
            for k in 0..<window {
                var sum: S = 0
                for part in 0..<parts { sum += partials[part * blockSize + o * (window + 1) + k] }
                filterGradient[o * window + k] = sum
            }
            if let biasGradient {
                var sum: S = 0
                for part in 0..<parts { sum += partials[part * blockSize + o * (window + 1) + window] }
                biasGradient[o] = sum
            }
        }
    }

    /// Writes the filter and bias gradients of `images` into `sums` (`[O, C·kh·kw + 1]`) by the C
    /// kernel of `level` (AVX2 or AVX-512): per vector lane, FMA over bands of rows and over the
    /// images, then the lanes added in order. Returns `false` for a scalar type without one.
    @inlinable
    static func vectorDirectFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, images: Range<Int>,
        level: SIMDLevel, outputGradient: UnsafePointer<S>, input: UnsafePointer<S>,
        sums: UnsafeMutablePointer<S>
    ) -> Bool {
        let g = geometry
        let shape = cShape(g, images: images.count, outputChannels: outputChannels)
        let input = input + images.lowerBound * g.channels * g.height * g.width
        let outputGradient = outputGradient
            + images.lowerBound * outputChannels * g.outputHeight * g.outputWidth
        if S.self == Float.self {
            let kernel = level == .avx2
                ? nabla_fewchannel_filter_gradient_f32_avx2 : nabla_fewchannel_filter_gradient_f32_avx512
            kernel(shape, cast(outputGradient, Float.self), cast(input, Float.self), cast(sums, Float.self))
        } else if S.self == Double.self {
            let kernel = level == .avx2
                ? nabla_fewchannel_filter_gradient_f64_avx2 : nabla_fewchannel_filter_gradient_f64_avx512
            kernel(shape, cast(outputGradient, Double.self), cast(input, Double.self), cast(sums, Double.self))
        } else {
            return false
        }
        return true
    }

    /// Adds the filter and bias gradients of `images` into `sums` (`[O, C·kh·kw + 1]`): each tap
    /// is a dot product of the gradient plane with the shifted padded input, row by row, in
    /// vectors of 8 with a scalar tail. (Reading only valid windows keeps a NaN or infinity in
    /// the input out of the taps that never see it.)
    @inlinable
    static func directFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, images: Range<Int>,
        outputGradient: UnsafePointer<S>, input: UnsafePointer<S>, sums: UnsafeMutablePointer<S>
    ) {
        typealias Vector = SIMD8<S>
        let lanes = Vector.scalarCount
        let g = geometry
        let planes = PaddedPlanes<S>(g, block: lanes)
        defer { planes.deallocate() }
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let paddedWidth = planes.paddedWidth
        let window = g.columnRows
        let stride = MemoryLayout<S>.stride
        let vectorWidth = outputWidth / lanes * lanes

        for image in images {
            planes.load(g, image: image, input: input)
            for o in 0..<outputChannels {
                let gradient = outputGradient
                    + (image * outputChannels + o) * outputHeight * outputWidth
                let row = sums + o * (window + 1)
                for channel in 0..<g.channels {
                    for i in 0..<g.kernelHeight {
                        for j in 0..<g.kernelWidth {
                            let tap = planes.buffer + channel * planes.planeStride
                                + i * paddedWidth + j
                            var sum0 = Vector(), sum1 = Vector()
                            var tail: S = 0
                            for y in 0..<outputHeight {
                                let gradientRow = gradient + y * outputWidth
                                let inputRow = tap + y * paddedWidth
                                let (a, b) = (UnsafeRawPointer(gradientRow), UnsafeRawPointer(inputRow))
                                var x = 0
                                while x + 2 * lanes <= vectorWidth {
                                    let offset = x * stride
                                    sum0 += a.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                                        * b.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                                    let next = offset + lanes * stride
                                    sum1 += a.loadUnaligned(fromByteOffset: next, as: Vector.self)
                                        * b.loadUnaligned(fromByteOffset: next, as: Vector.self)
                                    x += 2 * lanes
                                }
                                if x < vectorWidth {
                                    let offset = x * stride
                                    sum0 += a.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                                        * b.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                                    x += lanes
                                }
                                while x < outputWidth {
                                    tail += gradientRow[x] * inputRow[x]
                                    x += 1
                                }
                            }
                            row[(channel * g.kernelHeight + i) * g.kernelWidth + j] +=
                                (sum0 + sum1).sum() + tail
                        }
                    }
                }
                row[window] += ReductionKernels.sum(
                    UnsafeBufferPointer(start: gradient, count: outputHeight * outputWidth))
            }
        }
    }

    // MARK: Per-image GEMMs

    /// How many workers share per-image GEMMs of `multiplyAdds` each over `batch` images: the
    /// BLAS threads, when each GEMM is small enough for OpenBLAS to run it on the calling thread
    /// (so workers never wake OpenBLAS's own threads) and there is enough work to share.
    @inlinable
    static func imageParts(batch: Int, multiplyAdds: Int) -> Int {
        guard multiplyAdds <= BLAS.singleThreadedGemmLimit, batch * multiplyAdds >= 1 << 20 else { return 1 }
        return max(1, min(BLAS.threadCount, batch))
    }

    /// Runs `body(part, images)` for `parts` contiguous ranges of `0..<batch`, one per worker.
    @inlinable
    static func forEachImageRange(batch: Int, parts: Int, _ body: (Int, Range<Int>) -> Void) {
        guard parts > 1 else { return body(0, 0..<batch) }
        WorkerPool.run(parts: parts) { part in
            body(part, (batch * part / parts)..<(batch * (part + 1) / parts))
        }
    }

    /// One GEMM per image, `filter [O, C·kh·kw] · im2col(image) [C·kh·kw, oh·ow]`, written
    /// straight into the image's `[O, oh·ow]` output block; a bias is written there first and
    /// the GEMM adds to it. Images are shared among ``imageParts(batch:multiplyAdds:)`` workers.
    @inlinable
    static func gemmForward<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, bias: UnsafeBufferPointer<S>?,
        output: UnsafeMutableBufferPointer<S>
    ) {
        let image = singleImage(geometry)
        let (rows, plane) = (image.columnRows, image.outputHeight * image.outputWidth)
        let (inputImage, outputImage) = (image.inputCount, outputChannels * plane)
        let parts = imageParts(batch: geometry.batch, multiplyAdds: outputChannels * plane * rows)
        let level = KernelFamily.matrixProducts.level  // read here: workers do not see the task's
        forEachImageRange(batch: geometry.batch, parts: parts) { _, images in
            let columns = UnsafeMutableBufferPointer<S>.allocate(capacity: rows * plane)
            defer { columns.deallocate() }
            for n in images {
                ConvolutionKernels.im2col(
                    image,
                    input: UnsafeBufferPointer(rebasing: input[(n * inputImage)..<((n + 1) * inputImage)]),
                    columns: columns)
                let target = UnsafeMutableBufferPointer(
                    rebasing: output[(n * outputImage)..<((n + 1) * outputImage)])
                if let bias {
                    for o in 0..<outputChannels {
                        target[(o * plane)..<((o + 1) * plane)].update(repeating: bias[o])
                    }
                }
                BLAS.gemm(
                    matrixProductsLevel: level, m: outputChannels, n: plane, k: rows, a: filter, lda: rows,
                    b: UnsafeBufferPointer(columns), ldb: plane, beta: bias == nil ? 0 : 1,
                    c: target, ldc: plane)
            }
        }
    }

    /// One GEMM per image, `g_n [O, oh·ow] · im2col(image)ᵀ`, summed into the filter gradient;
    /// `g_n` is the image's block of the NCHW gradient, read in place. The bias gradient (zeroed
    /// by the caller) sums each `g_n` row while it is in cache. With several workers, each sums
    /// its images into its own partial gradients, which are then added in a fixed order.
    @inlinable
    static func gemmFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int,
        outputGradient: UnsafeBufferPointer<S>, input: UnsafeBufferPointer<S>,
        filterGradient: UnsafeMutableBufferPointer<S>, biasGradient: UnsafeMutableBufferPointer<S>?
    ) {
        let image = singleImage(geometry)
        let (rows, plane) = (image.columnRows, image.outputHeight * image.outputWidth)
        let (inputImage, outputImage) = (image.inputCount, outputChannels * plane)
        let level = KernelFamily.matrixProducts.level  // read here: workers do not see the task's
        func accumulate(_ images: Range<Int>, into filterGradient: UnsafeMutablePointer<S>, bias: UnsafeMutablePointer<S>?) {
            let columns = UnsafeMutableBufferPointer<S>.allocate(capacity: rows * plane)
            defer { columns.deallocate() }
            for n in images {
                ConvolutionKernels.im2col(
                    image,
                    input: UnsafeBufferPointer(rebasing: input[(n * inputImage)..<((n + 1) * inputImage)]),
                    columns: columns)
                let gradient = UnsafeBufferPointer(
                    rebasing: outputGradient[(n * outputImage)..<((n + 1) * outputImage)])
                BLAS.gemm(
                    matrixProductsLevel: level, transposeB: true, m: outputChannels, n: rows, k: plane,
                    a: gradient, lda: plane,
                    b: UnsafeBufferPointer(columns), ldb: plane, beta: n == images.lowerBound ? 0 : 1,
                    c: UnsafeMutableBufferPointer(start: filterGradient, count: outputChannels * rows), ldc: rows)
                if let bias {
                    for o in 0..<outputChannels {
                        bias[o] += ReductionKernels.sum(
                            UnsafeBufferPointer(rebasing: gradient[(o * plane)..<((o + 1) * plane)]))
                    }
                }
            }
        }
        let parts = imageParts(batch: geometry.batch, multiplyAdds: outputChannels * plane * rows)
        guard parts > 1 else {
            return accumulate(0..<geometry.batch, into: filterGradient.baseAddress!, bias: biasGradient?.baseAddress)
        }
        let (filterCount, biasCount) = (outputChannels * rows, biasGradient == nil ? 0 : outputChannels)
        let partials = UnsafeMutableBufferPointer<S>.allocate(capacity: parts * (filterCount + biasCount))
        defer { partials.deallocate() }
        partials.update(repeating: 0)
        forEachImageRange(batch: geometry.batch, parts: parts) { part, images in
            let start = partials.baseAddress! + part * (filterCount + biasCount)
            accumulate(images, into: start, bias: biasCount > 0 ? start + filterCount : nil)
        }
        filterGradient.update(repeating: 0)
        for part in 0..<parts {
            let start = partials.baseAddress! + part * (filterCount + biasCount)
            for i in 0..<filterCount { filterGradient[i] += start[i] }
            if let biasGradient { for o in 0..<biasCount { biasGradient[o] += start[filterCount + o] } }
        }
    }

    /// Whether the input gradient takes the per-image GEMMs.
    @inlinable
    public static func handlesInputGradient(
        _ geometry: Convolution2DGeometry, outputChannels: Int
    ) -> Bool {
        geometry.channels <= maximumChannels && geometry.batch > 0
            && geometry.outputHeight * geometry.outputWidth >= minimumGemmPlane
    }

    /// ``conv2dBackwardInput(_:filter:inputShape:configuration:groups:)`` by one GEMM per image,
    /// `filterᵀ [C·kh·kw, O] · g_n [O, oh·ow]`, reading the image's block of the NCHW gradient in
    /// place, then col2im into the image's input gradient. Each GEMM is small enough for
    /// OpenBLAS to run on the calling thread alone.
    ///
    /// - Returns: `[N, C, H, W]`.
    @inlinable
    public static func conv2dBackwardInput<S: TensorScalar>(
        _ outputGradient: Tensor<S>, filter: Tensor<S>, geometry: Convolution2DGeometry
    ) -> Tensor<S> {
        let outputChannels = filter.shape[0]
        let image = singleImage(geometry)
        let (rows, plane) = (image.columnRows, image.outputHeight * image.outputWidth)
        let columns = UnsafeMutableBufferPointer<S>.allocate(capacity: rows * plane)
        defer { columns.deallocate() }
        let (inputImage, outputImage) = (image.inputCount, outputChannels * plane)
        return Tensor(unsafeUninitializedShape: geometry.inputShape) { inputGradient in
            outputGradient.withUnsafeBufferPointer { outputGradient in
                filter.withUnsafeBufferPointer { filter in
                    for n in 0..<geometry.batch {
                        BLAS.gemm(
                            transposeA: true, m: rows, n: plane, k: outputChannels,
                            a: filter, lda: rows,
                            b: UnsafeBufferPointer(
                                rebasing: outputGradient[(n * outputImage)..<((n + 1) * outputImage)]),
                            ldb: plane, c: columns, ldc: plane)
                        ConvolutionKernels.col2im(
                            image, columns: UnsafeBufferPointer(columns),
                            input: UnsafeMutableBufferPointer(
                                rebasing: inputGradient[(n * inputImage)..<((n + 1) * inputImage)]))
                    }
                }
            }
        }
    }

    /// `geometry` for one of its images.
    @inlinable
    static func singleImage(_ geometry: Convolution2DGeometry) -> Convolution2DGeometry {
        Convolution2DGeometry(
            batch: 1, channels: geometry.channels, height: geometry.height, width: geometry.width,
            kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth,
            configuration: geometry.configuration)
    }
}

/// The few-channel kernels' earlier name.
@available(*, deprecated, renamed: "FewChannelConvolutionKernels")
public typealias DirectConvolutionKernels = FewChannelConvolutionKernels
