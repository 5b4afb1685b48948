// Stride-2, 4×4 convolutions (DCGAN's downsampling layers, and through their input gradient the
// transposed convolutions that upsample) as 2×2, stride-1 convolutions over the space-to-depth
// input, which Winograd F(4×4, 2×2) computes with 25 products per 4×4 tile instead of 64.
//
// Per axis, with x′_a[u] = x[2u + a − p] (zero outside the input) for the phase a ∈ {0, 1}:
//
//     y[q] = Σ_{k<4} x[2q + k − p] · w[k] = Σ_{a, d ∈ {0,1}} x′_a[q + d] · w[2d + a]
//
// so y = conv2d(x′, w′) with x′ `[N, 4C, oh + 1, ow + 1]`, channel (2a + b)·C + c, and
// w′[o, (2a + b)·C + c, d, e] = w[o, c, 2d + a, 2e + b], no padding. Every input pixel lands in
// exactly one place of x′ (or none, for rows and columns the convolution never reads), so the
// input gradient is dx′ gathered back, with no sums.

/// Stride-2, 4×4 convolutions by space-to-depth and Winograd F(4×4, 2×2).
public enum SpaceToDepthConvolution {
    /// Whether the convolution of `geometry` is a 4×4 one with stride 2 and dilation 1.
    @inlinable
    public static func supports(_ geometry: Convolution2DGeometry) -> Bool {
        let c = geometry.configuration
        return geometry.kernelHeight == 4 && geometry.kernelWidth == 4
            && c.strideHeight == 2 && c.strideWidth == 2
            && c.dilationHeight == 1 && c.dilationWidth == 1
    }

    /// Whether it is faster than im2col + GEMM: Winograd's conditions on the 2×2 convolution
    /// (`4C ≥ 16`, `O ≥ 16`, at least 512 output positions over the batch).
    @inlinable
    public static func pays(_ geometry: Convolution2DGeometry, outputChannels: Int) -> Bool {
        supports(geometry) && 4 * geometry.channels >= 16 && outputChannels >= 16
            && geometry.batch * geometry.outputHeight * geometry.outputWidth >= 512
    }

    /// The 2×2, stride-1, unpadded convolution over x′ `[N, 4C, oh + 1, ow + 1]`.
    @inlinable
    public static func reducedGeometry(_ geometry: Convolution2DGeometry) -> Convolution2DGeometry {
        Convolution2DGeometry(
            batch: geometry.batch, channels: 4 * geometry.channels, height: geometry.outputHeight + 1,
            width: geometry.outputWidth + 1, kernelHeight: 2, kernelWidth: 2, configuration: .init())
    }

    /// y = conv2d(x, w) + bias: `input` `[N, C, H, W]`, `filter` `[O, C, 4, 4]`, `bias` `[O]`;
    /// returns `[N, O, oh, ow]`.
    @inlinable
    public static func conv2d<S: TensorScalar>(
        _ input: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>? = nil, geometry: Convolution2DGeometry
    ) -> Tensor<S> {
        WinogradKernels.conv2d(
            input, filter: reducedFilter(filter), bias: bias, geometry: reducedGeometry(geometry),
            spaceToDepthSource: geometry)
    }

    /// dx = ∂L/∂x from `outputGradient` `[N, O, oh, ow]` and `filter` `[O, C, 4, 4]`, plus
    /// `bias` `[C]` per channel when given (a transposed convolution's forward); returns
    /// `[N, C, H, W]`.
    @inlinable
    public static func conv2dBackwardInput<S: TensorScalar>(
        _ outputGradient: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>? = nil,
        geometry: Convolution2DGeometry
    ) -> Tensor<S> {
        let reduced = reducedGeometry(geometry)
        // The 2×2 convolution's input gradient: dx′ = conv2d(dy padded by 1, w′ rotated), with
        // the bias of each x′ channel's c added in its output transform.
        let rotated = rotatedReducedFilter(filter)
        let phaseBias = bias.map { bias in
            Tensor<S>(shape: [4 * geometry.channels], scalars: Array((0..<4).map { _ in bias.scalars }.joined()))
        }
        let gradientGeometry = WinogradKernels.inputGradientGeometry(reduced, outputChannels: filter.shape[0])
        // Written through depth-to-space by the output transform, unless some pixels of dx are
        // no pixel of dx′ (they take the bias, or zero).
        guard !coversEveryPixel(geometry) else {
            return WinogradKernels.conv2d(
                outputGradient, filter: rotated, bias: phaseBias, geometry: gradientGeometry,
                depthToSpaceTarget: geometry)
        }
        let reducedGradient = WinogradKernels.conv2d(
            outputGradient, filter: rotated, bias: phaseBias, geometry: gradientGeometry)
        return depthToSpace(reducedGradient, geometry, unread: bias)
    }

    /// Whether every pixel of the input `[N, C, H, W]` is a pixel of x′ `[N, 4C, oh + 1, ow + 1]`:
    /// rows and columns at or past 2·(oh + 1) − p are not.
    @inlinable
    public static func coversEveryPixel(_ geometry: Convolution2DGeometry) -> Bool {
        let c = geometry.configuration
        return geometry.height + c.paddingHeight <= 2 * (geometry.outputHeight + 1)
            && geometry.width + c.paddingWidth <= 2 * (geometry.outputWidth + 1)
    }

    /// ∂L/∂w `[O, C, 4, 4]` and, if `computesBiasGradient`, ∂L/∂b `[O]`, from `outputGradient`
    /// `[N, O, oh, ow]` and `input` `[N, C, H, W]`.
    @inlinable
    public static func conv2dBackwardFilterAndBias<S: TensorScalar>(
        _ outputGradient: Tensor<S>, input: Tensor<S>, outputChannels: Int, geometry: Convolution2DGeometry,
        computesBiasGradient: Bool
    ) -> (filter: Tensor<S>, bias: Tensor<S>?) {
        let (reducedFilterGradient, bias) = WinogradKernels.conv2dBackwardFilterAndBias(
            outputGradient, input: input, outputChannels: outputChannels, geometry: reducedGeometry(geometry),
            computesBiasGradient: computesBiasGradient, spaceToDepthSource: geometry)
        return (fullFilter(reducedFilterGradient, channels: geometry.channels), bias)
    }

    /// A transposed convolution's backward in one pass over `input` `[N, C, H, W]` (its output
    /// gradient): y = conv2d(x, w) `[N, O, oh, ow]`, ∂L/∂w `[O, C, 4, 4]` for `outputGradient`
    /// `[N, O, oh, ow]`, and `input` summed over axes 0, 2 and 3 if `computesChannelSums`.
    @inlinable
    public static func conv2dAndBackwardFilter<S: TensorScalar>(
        _ input: Tensor<S>, filter: Tensor<S>, outputGradient: Tensor<S>, geometry: Convolution2DGeometry,
        computesChannelSums: Bool
    ) -> (output: Tensor<S>, filterGradient: Tensor<S>, channelSums: Tensor<S>?) {
        let reduced = reducedGeometry(geometry)
        // Channel sums from the staging need every input pixel staged.
        let plan = WinogradKernels.Plan(
            reduced, outputChannels: filter.shape[0], variant: .f4x4Kernel2, spaceToDepthSource: geometry, scalar: S.self)
        let sumsApart = computesChannelSums && plan.dropsSourcePixels
        let result = WinogradKernels.conv2dAndBackwardFilter(
            input, filter: reducedFilter(filter), outputGradient: outputGradient, geometry: reduced,
            computesInputChannelSums: computesChannelSums && !sumsApart, spaceToDepthSource: geometry)
        let sums = sumsApart ? input.sum(alongAxes: [0, 2, 3]) : result.inputChannelSums
        return (result.output, fullFilter(result.filterGradient, channels: geometry.channels), sums)
    }

    // MARK: - Rearrangements

    /// dx `[N, C, H, W]` from dx′: each pixel's one place in x′, or `unread[c]` (zero without it)
    /// for the rows and columns past the last the convolution reads. Row by row: row y of
    /// channel c interleaves row u of the planes (a, 0, c) and (a, 1, c), y + p = 2u + a.
    @inlinable
    static func depthToSpace<S: TensorScalar>(
        _ reduced: Tensor<S>, _ geometry: Convolution2DGeometry, unread: Tensor<S>? = nil
    ) -> Tensor<S> {
        let unread = unread?.scalars
        let g = geometry
        let (height, width) = (g.outputHeight + 1, g.outputWidth + 1)
        let (top, left) = (g.configuration.paddingHeight, g.configuration.paddingWidth)
        // Columns x + left ≥ 2·width map to no place of x′; only then do rows need a slow path.
        let columnsFit = g.width + left <= 2 * width
        return Tensor(unsafeUninitializedShape: [g.batch, g.channels, g.height, g.width]) { input in
            reduced.withUnsafeBufferPointer { reduced in
                let parts = max(1, min(BLAS.threadCount, BLAS.onlineCores, g.batch))
                WorkerPool.run(parts: parts) { part in
                    for image in stride(from: part, to: g.batch, by: parts) {
                        for c in 0..<g.channels {
                            let outside = unread?[c] ?? 0
                            for y in 0..<g.height {
                                let to = input.baseAddress! + ((image * g.channels + c) * g.height + y) * g.width
                                let (u, a) = ((y + top) >> 1, (y + top) & 1)
                                guard u < height else {
                                    to.update(repeating: outside, count: g.width)
                                    continue
                                }
                                let plane = { (b: Int) in
                                    reduced.baseAddress! + (((image * 4 + 2 * a + b) * g.channels + c) * height + u) * width
                                }
                                let (even, odd) = (plane(0), plane(1))
                                guard columnsFit else {
                                    for x in 0..<g.width {
                                        let (v, b) = ((x + left) >> 1, (x + left) & 1)
                                        to[x] = v < width ? (b == 0 ? even : odd)[v] : outside
                                    }
                                    continue
                                }
                                var x = 0
                                if left & 1 == 1 {
                                    to[0] = odd[left >> 1]
                                    x = 1
                                }
                                while x + 1 < g.width {
                                    let v = (x + left) >> 1
                                    to[x] = even[v]
                                    to[x + 1] = odd[v]
                                    x += 2
                                }
                                if x < g.width { to[x] = even[(x + left) >> 1] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body(o, c′, d, e, tap)` for every tap w[o, c, 2d + a, 2e + b] of a filter
    /// `[O, C, 4, 4]`, `tap` its index there and c′ = (2a + b)·C + c its channel in w′.
    @inlinable
    static func forEachTap(
        outputs: Int, channels: Int, _ body: (_ o: Int, _ reducedChannel: Int, _ d: Int, _ e: Int, _ tap: Int) -> Void
    ) {
        for o in 0..<outputs {
            for phase in 0..<4 {
                let (a, b) = (phase >> 1, phase & 1)
                for c in 0..<channels {
                    for d in 0..<2 {
                        for e in 0..<2 { body(o, phase * channels + c, d, e, ((o * channels + c) * 4 + 2 * d + a) * 4 + 2 * e + b) }
                    }
                }
            }
        }
    }

    /// w′ `[O, 4C, 2, 2]`: w′[o, (2a + b)·C + c, d, e] = w[o, c, 2d + a, 2e + b].
    @inlinable
    static func reducedFilter<S: TensorScalar>(_ filter: Tensor<S>) -> Tensor<S> {
        let (outputs, channels) = (filter.shape[0], filter.shape[1])
        return Tensor(unsafeUninitializedShape: [outputs, 4 * channels, 2, 2]) { reduced in
            filter.withUnsafeBufferPointer { w in
                forEachTap(outputs: outputs, channels: channels) { o, c, d, e, tap in
                    reduced[((o * 4 * channels + c) * 2 + d) * 2 + e] = w[tap]
                }
            }
        }
    }

    /// w′ rotated by 180° with its channel axes swapped, `[4C, O, 2, 2]`: the filter of the 2×2
    /// convolution's input gradient.
    @inlinable
    static func rotatedReducedFilter<S: TensorScalar>(_ filter: Tensor<S>) -> Tensor<S> {
        let (outputs, channels) = (filter.shape[0], filter.shape[1])
        return Tensor(unsafeUninitializedShape: [4 * channels, outputs, 2, 2]) { rotated in
            filter.withUnsafeBufferPointer { w in
                forEachTap(outputs: outputs, channels: channels) { o, c, d, e, tap in
                    rotated[((c * outputs + o) * 2 + 1 - d) * 2 + 1 - e] = w[tap]
                }
            }
        }
    }

    /// dw `[O, C, 4, 4]` from dw′ `[O, 4C, 2, 2]`, the inverse of ``reducedFilter(_:)``.
    @inlinable
    static func fullFilter<S: TensorScalar>(_ reduced: Tensor<S>, channels: Int) -> Tensor<S> {
        let outputs = reduced.shape[0]
        return Tensor(unsafeUninitializedShape: [outputs, channels, 4, 4]) { w in
            reduced.withUnsafeBufferPointer { reduced in
                forEachTap(outputs: outputs, channels: channels) { o, c, d, e, tap in
                    w[tap] = reduced[((o * 4 * channels + c) * 2 + d) * 2 + e]
                }
            }
        }
    }
}
