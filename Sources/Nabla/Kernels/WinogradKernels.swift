import CNablaKernels
#if canImport(Glibc)
import Glibc
#endif

// Winograd convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015)
// for r×r filters (3×3, and 2×2 for the stride-2 4×4 convolutions after space-to-depth) with
// stride 1 and dilation 1. Each m×m output tile is
//
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// for its α×α input patch d (α = m + r − 1). Summed over channels, the element-wise stage becomes α²
// independent matrix products, one per position ξ of the α×α transformed tile:
//
//     M_ξ [tiles, O] = V_ξ [tiles, C] · U_ξ [C, O]
//
// Scratch layouts (all row-major), for a chunk of images holding `tiles` tiles:
//   U       [C, α², O]               the transformed filter
//   staging [images, Hp, Wp, Cv]     the chunk's input, zero-padded, channels last
//   V       [tiles, α², Cv]          the transformed input tiles
//   M       [tiles, α², Ov]          the products, before the output transform
// Cv and Ov round C and O up to the vector width, so the transforms work on 8 channels at once
// with contiguous loads and stores; the products read and write only the first C and O columns.
// U_ξ, V_ξ and M_ξ are strided views (leading dimensions α²·O, α²·Cv, α²·Ov), so the transforms
// write and read one contiguous block per channel or tile.

/// Winograd 2-D convolution for 3×3 (and 2×2) filters with stride 1 and dilation 1, any zero
/// padding.
///
/// About 3× fewer multiply-adds than im2col + GEMM with F(4×4, 3×3), at the price of a small
/// loss of accuracy in Float (about 1e-6 of the output's magnitude) and of how non-finite inputs
/// spread (see ``convolution2D(_:variant:input:filter:bias:output:workspace:spaceToDepthSource:depthToSpaceTarget:)``).
public enum WinogradKernels {
    /// The algorithm: F(m×m, r×r) computes m×m outputs of an r×r filter from an α×α patch,
    /// α = m + r − 1.
    public enum Variant: Hashable, Sendable, CaseIterable {
        /// F(2×2, 3×3): 4×4 patches; 16 products; exact transforms (only ±1, ½). Kept as the
        /// tests' more accurate oracle for F(4×4); ``ConvolutionAlgorithm`` never picks it (it
        /// measured 35% slower).
        case f2x2
        /// F(4×4, 3×3): 6×6 patches; 36 products; interpolation points 0, ±1, ±2, ∞.
        case f4x4
        /// F(4×4, 2×2): 5×5 patches; 25 products; points 0, ±1, 2, ∞. For 2×2 filters, which the
        /// stride-2, 4×4 convolutions become after space-to-depth (``SpaceToDepthConvolution``).
        case f4x4Kernel2

        /// The output tile size m.
        @inlinable public var tile: Int { self == .f2x2 ? 2 : 4 }
        /// The filter size r.
        @inlinable public var kernel: Int { self == .f4x4Kernel2 ? 2 : 3 }
        /// The transformed tile size α = m + r − 1.
        @inlinable public var alpha: Int { tile + kernel - 1 }

        /// The variant the tensor-level entry points run for an r×r filter (3 or 2).
        @inlinable public static func fastest(forKernel r: Int) -> Variant { r == 2 ? .f4x4Kernel2 : .f4x4 }
    }

    /// Whether Winograd can compute the convolution of `geometry`: a 3×3 kernel with unit strides
    /// and dilations.
    @inlinable
    public static func supports(_ geometry: Convolution2DGeometry) -> Bool {
        supports(geometry, variant: .f4x4)
    }

    /// Whether `variant` can compute the convolution of `geometry`: an r×r kernel of the
    /// variant with unit strides and dilations.
    @inlinable
    public static func supports(_ geometry: Convolution2DGeometry, variant: Variant) -> Bool {
        let c = geometry.configuration
        return geometry.kernelHeight == variant.kernel && geometry.kernelWidth == variant.kernel
            && c.strideHeight == 1 && c.strideWidth == 1
            && c.dilationHeight == 1 && c.dilationWidth == 1
    }

    /// Whether Winograd is faster than im2col + GEMM for `geometry` with `outputChannels`, as
    /// measured on a 2-core AVX2 machine with OpenBLAS: both channel counts at least 16 and at
    /// least 512 output positions per channel over the batch (N·oh·ow), since the filter
    /// transform costs as much as the products of about 64 tiles.
    @inlinable
    public static func pays(_ geometry: Convolution2DGeometry, outputChannels: Int) -> Bool {
        supports(geometry) && geometry.channels >= 16 && outputChannels >= 16
            && geometry.batch * geometry.outputHeight * geometry.outputWidth >= 512
    }

    /// The sizes of one Winograd convolution: tiles, padded staging and chunking.
    public struct Plan: Hashable, Sendable {
        /// The convolution; `supports(geometry)` holds.
        public let geometry: Convolution2DGeometry
        /// The number of output channels, `O`.
        public let outputChannels: Int
        /// The output tile size.
        public let variant: Variant
        /// The stride-2, 4×4 convolution whose NCHW input the staging reads, when `geometry` is its
        /// space-to-depth 2×2 convolution (``SpaceToDepthConvolution``); `nil` when the staging
        /// reads `geometry`'s own input.
        public let spaceToDepthSource: Convolution2DGeometry?
        /// The bytes of one scalar.
        public let scalarBytes: Int
        /// Tile rows and columns per image: `⌈oh / m⌉` and `⌈ow / m⌉`.
        public let tilesHigh: Int, tilesWide: Int
        /// The staged (padded) image height and width: tiles · m + r − 1.
        public let stagedHeight: Int, stagedWidth: Int
        /// Channels rounded up to the vector width.
        public let paddedChannels: Int, paddedOutputChannels: Int
        /// Images transformed and multiplied together, sized so a chunk's scratch stays in L2.
        public let imagesPerChunk: Int
        /// Workers that take chunks in parallel: `BLAS.threadCount` when there are chunks enough
        /// and a chunk's products run on the calling thread (the internal `SmallGEMM` at an AVX
        /// level, or OpenBLAS for m·n·k ≤ 2¹⁸), so OpenBLAS's own threads stay idle; otherwise 1.
        /// Never more than the online cores, nor more than 256 MiB of workspace (each part
        /// holds its own transformed filter), whatever the thread count.
        @inlinable public var parts: Int { workers }
        @usableFromInline var workers = 1

        /// The vector width of the transforms, in channels.
        @usableFromInline static let lanes = 8
        /// The scratch one chunk may use, in bytes: about half the 1 MB L2 of one core.
        @usableFromInline static let chunkBytes = 1 << 19
        /// The fewest tiles in a chunk (when the batch has them), whatever its size.
        @usableFromInline static let fewestTiles = 64
        /// The most workspace more parts may add up to, in bytes: 256 MiB.
        @usableFromInline static let workspaceBytes = 1 << 28

        /// Plans the convolution of `geometry` with `outputChannels` output channels.
        ///
        /// - Precondition: `supports(geometry)` and `outputChannels ≥ 1`.
        @inlinable
        public init<S: TensorScalar>(
            _ geometry: Convolution2DGeometry, outputChannels: Int, variant: Variant = .f4x4,
            spaceToDepthSource: Convolution2DGeometry? = nil, scalar: S.Type
        ) {
            Misuse.check(
                supports(geometry, variant: variant), "winograd",
                "kernel \(geometry.kernelHeight)×\(geometry.kernelWidth) with "
                    + "\(geometry.configuration): \(variant) needs a \(variant.kernel)×\(variant.kernel) "
                    + "kernel, stride 1 and dilation 1")
            Misuse.check(
                outputChannels >= 1, "winograd",
                "output channels \(outputChannels) must be positive")
            self.geometry = geometry
            self.outputChannels = outputChannels
            self.variant = variant
            self.spaceToDepthSource = spaceToDepthSource
            scalarBytes = MemoryLayout<S>.stride
            let m = variant.tile
            tilesHigh = (geometry.outputHeight + m - 1) / m
            tilesWide = (geometry.outputWidth + m - 1) / m
            stagedHeight = tilesHigh * m + variant.kernel - 1
            stagedWidth = tilesWide * m + variant.kernel - 1
            let lanes = Plan.lanes
            paddedChannels = (geometry.channels + lanes - 1) / lanes * lanes
            paddedOutputChannels = (outputChannels + lanes - 1) / lanes * lanes
            let perImage =
                MemoryLayout<S>.stride
                * (max(
                    stagedHeight * stagedWidth * paddedChannels,
                    tilesHigh * m * tilesWide * m * paddedOutputChannels)
                    + variant.alpha * variant.alpha * tilesHigh * tilesWide
                    * (paddedChannels + paddedOutputChannels))
            // At least 64 tiles, so the products are not too thin for BLAS.
            let tilesPerImage = tilesHigh * tilesWide
            let fewestImages = (Plan.fewestTiles + tilesPerImage - 1) / tilesPerImage
            imagesPerChunk = max(
                1, min(geometry.batch, max(Plan.chunkBytes / perImage, fewestImages)))
            let chunks = (geometry.batch + imagesPerChunk - 1) / imagesPerChunk
            let products =
                imagesPerChunk * tilesHigh * tilesWide * geometry.channels
                * outputChannels
            // SmallGEMM runs on the calling thread whatever the size.
            let simd = KernelFamily.winogradTransforms.level > .portable
            guard simd || products <= BLAS.singleThreadedGemmLimit else { return }
            let affordable = Plan.workspaceBytes / (partCount * MemoryLayout<S>.stride)
            workers = max(1, min(BLAS.threadCount, BLAS.onlineCores, chunks, affordable))
        }

        /// Tiles per image.
        @inlinable public var tilesPerImage: Int { tilesHigh * tilesWide }
        /// Tiles per chunk.
        @inlinable public var tilesPerChunk: Int { imagesPerChunk * tilesPerImage }
        /// α².
        @inlinable public var positions: Int { variant.alpha * variant.alpha }
        /// Scalars of the transformed filter U, `[C, α², O]`.
        @inlinable public var filterCount: Int { positions * geometry.channels * outputChannels }
        /// Scalars of one chunk's staging: the input `[images, Hp, Wp, Cv]` or, for the filter
        /// gradient, the output gradient `[images, tilesHigh·m, tilesWide·m, Ov]`.
        @inlinable public var stagingCount: Int {
            imagesPerChunk
                * max(
                    stagedHeight * stagedWidth * paddedChannels,
                    tilesHigh * variant.tile * tilesWide * variant.tile * paddedOutputChannels)
        }
        /// Whether the space-to-depth staging leaves out source pixels (rows or columns past the
        /// last the convolution reads).
        @inlinable public var dropsSourcePixels: Bool {
            guard let s = spaceToDepthSource else { return false }
            return s.configuration.paddingHeight + s.height > 2 * stagedHeight
                || s.configuration.paddingWidth + s.width > 2 * stagedWidth
        }
        /// Scalars of one chunk's staging, V and M.
        @inlinable public var chunkCount: Int {
            stagingCount + positions * tilesPerChunk * (paddedChannels + paddedOutputChannels)
        }
        /// The workspace of one part: U (or dU) and the scratch of one chunk.
        @inlinable public var partCount: Int { filterCount + chunkCount }
        /// The workspace ``convolution2D(_:variant:input:filter:bias:output:workspace:spaceToDepthSource:depthToSpaceTarget:)`` needs, in
        /// scalars: one ``partCount`` per part.
        @inlinable public var workspaceCount: Int { parts * partCount }

        /// The parts a workspace of `count` scalars has room for, at most ``parts``.
        @inlinable func parts(workspace count: Int) -> Int { min(parts, count / partCount) }
    }

    /// The workspace, in scalars, of a Winograd convolution of `geometry` with `outputChannels`.
    @inlinable
    public static func workspaceCount<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, variant: Variant = .f4x4,
        spaceToDepthSource: Convolution2DGeometry? = nil, scalar: S.Type
    ) -> Int {
        Plan(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: spaceToDepthSource,
            scalar: S.self
        ).workspaceCount
    }

    /// Writes the convolution (cross-correlation) of `input` with `filter` into `output`.
    ///
    /// Shapes: `input` is `[N, C, H, W]`, `filter` is `[O, C, 3, 3]` and `output` is
    /// `[N, O, oh, ow]`, contiguous, with the sizes of `geometry`; `O = filter.count / (9·C)`.
    /// `workspace` holds at least ``Plan/partCount`` scalars, its contents are ignored and
    /// overwritten, so a caller can reuse it across calls; with
    /// ``workspaceCount(_:outputChannels:variant:spaceToDepthSource:scalar:)`` scalars (sized for `BLAS.threadCount`)
    /// chunks of images run on ``Plan/parts`` threads.
    ///
    /// Non-finite values: the output transform mixes the m×m outputs of a tile, so a NaN or ±Inf
    /// in the input makes NaN (or ±Inf) every output of each tile whose (m + 2)×(m + 2) input
    /// patch contains it, a superset of the outputs whose 3×3 window contains it. Outputs of
    /// other tiles are unaffected. A non-finite filter value makes its whole output channel
    /// non-finite, as in the direct convolution.
    ///
    /// - Precondition: `supports(geometry)`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func convolution2D<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, variant: Variant = .f4x4,
        input: UnsafeBufferPointer<S>, filter: UnsafeBufferPointer<S>,
        bias: UnsafeBufferPointer<S>? = nil,
        output: UnsafeMutableBufferPointer<S>, workspace: UnsafeMutableBufferPointer<S>,
        spaceToDepthSource: Convolution2DGeometry? = nil, depthToSpaceTarget: Convolution2DGeometry? = nil
    ) {
        let outputChannels = Misuse.checkWinogradBuffers(
            "winograd", geometry, filter: ("filter", filter.count), input: input.count,
            output: ("output", output.count), inputGeometry: spaceToDepthSource,
            depthToSpaceTarget: depthToSpaceTarget)
        if let target = depthToSpaceTarget {
            Misuse.checkDepthToSpaceTarget(
                "winograd", target, covered: SpaceToDepthConvolution.coversEveryPixel(target), tile: variant.tile,
                kernel: variant.kernel)
        }
        if let bias {
            Misuse.check(
                bias.count == outputChannels, "winograd",
                "bias has \(bias.count) scalars, but there are \(outputChannels) output channels")
        }
        let plan = Plan(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: spaceToDepthSource,
            scalar: S.self)
        Misuse.checkWorkspace("winograd", workspace.count, needs: plan.partCount)
        guard geometry.batch > 0 else { return }

        let level = KernelFamily.winogradTransforms.levelForRun()
        if level > .portable { countMultiplyAdds(plan) }
        let transformedFilter = workspace.baseAddress!
        transformFilter(plan, filter: filter.baseAddress!, into: transformedFilter, level: level)
        // The bias padded to the vector width, so the output transform adds whole vectors.
        withUnsafeTemporaryAllocation(of: S.self, capacity: plan.paddedOutputChannels) { padded in
            let paddedBias = bias.map { bias in
                padded.initialize(repeating: 0)
                _ = padded.update(fromContentsOf: bias)
                return UnsafePointer(padded.baseAddress!)
            }
            forEachChunk(plan, workspace: workspace) { images, part in
                convolveChunk(
                    plan, images: images, input: input.baseAddress!,
                    transformedFilter: transformedFilter, bias: paddedBias,
                    output: output.baseAddress!, scratch: part + plan.filterCount, level: level,
                    depthToSpace: depthToSpaceTarget)
            }
        }
    }

    /// Adds the products' multiply-adds to the task's ``MultiplyAddCounter``, as BLAS.gemm does
    /// for the portable path.
    @usableFromInline
    static func countMultiplyAdds(_ plan: Plan) {
        MultiplyAddCounter.current?.add(
            plan.positions * plan.geometry.batch * plan.tilesPerImage * plan.geometry.channels
                * plan.outputChannels)
    }

    /// Calls `body` with every chunk of images and the workspace of the part that takes it.
    /// Part p takes chunks p, p + parts, p + 2·parts, …: a fixed grouping, so the filter
    /// gradient, which sums each part's chunks and then the parts, gives the same bits on every
    /// run (a queue of chunks taken as parts finish grouped them by timing).
    @inlinable
    static func forEachChunk<S: TensorScalar>(
        _ plan: Plan, workspace: UnsafeMutableBufferPointer<S>,
        _ body: (Range<Int>, UnsafeMutablePointer<S>) -> Void
    ) {
        let batch = plan.geometry.batch
        let chunks = (batch + plan.imagesPerChunk - 1) / plan.imagesPerChunk
        let parts = plan.parts(workspace: workspace.count)
        func run(chunk: Int, part: Int) {
            let first = chunk * plan.imagesPerChunk
            body(
                first..<min(first + plan.imagesPerChunk, batch),
                workspace.baseAddress! + part * plan.partCount)
        }
        guard parts > 1 else {
            for chunk in 0..<chunks { run(chunk: chunk, part: 0) }
            return
        }
        WorkerPool.run(parts: parts) { part in
            for chunk in stride(from: part, to: chunks, by: parts) { run(chunk: chunk, part: part) }
        }
    }

    /// Convolves `images` of the batch: stage, transform, multiply, transform back.
    @inlinable
    static func convolveChunk<S: TensorScalar>(
        _ plan: Plan, images: Range<Int>, input: UnsafePointer<S>,
        transformedFilter: UnsafePointer<S>, bias: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>, level: SIMDLevel,
        depthToSpace: Convolution2DGeometry? = nil
    ) {
        let staging = scratch
        let transformedInput = staging + plan.stagingCount
        let products = transformedInput + plan.positions * plan.tilesPerChunk * plan.paddedChannels
        stage(plan, images: images, input: input, staging: staging, level: level)
        transformInput(
            plan, images: images.count, staging: staging, into: transformedInput, level: level)
        multiplyAndTransformOutput(
            plan, images: images, transformedInput: transformedInput, transformedFilter: transformedFilter,
            products: products, bias: bias, output: output, level: level, depthToSpace: depthToSpace)
    }

    /// M = V·U for a chunk's transformed input V, then its output transform into `output`
    /// (the whole batch's `[N, O, oh, ow]`, or `[N, C, H, W]` of `depthToSpace`).
    @inlinable
    static func multiplyAndTransformOutput<S: TensorScalar>(
        _ plan: Plan, images: Range<Int>, transformedInput: UnsafePointer<S>,
        transformedFilter: UnsafePointer<S>, products: UnsafeMutablePointer<S>, bias: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, level: SIMDLevel, depthToSpace: Convolution2DGeometry? = nil
    ) {
        let g = plan.geometry
        let tiles = images.count * plan.tilesPerImage
        let (c, o) = (g.channels, plan.outputChannels)
        let (cv, ov) = (plan.paddedChannels, plan.paddedOutputChannels)
        let positions = plan.positions
        for position in 0..<positions where level > .portable {
            // M_ξ [tiles, O] = V_ξ [tiles, C] · U_ξ [C, O]
            SmallGEMM.multiply(
                level: level, m: tiles, n: o, k: c, a: transformedInput + position * cv,
                aRowStride: positions * cv, aDepthStride: 1, b: transformedFilter + position * o,
                ldb: positions * o, c: products + position * ov, ldc: positions * ov,
                accumulate: false)
        }
        for position in 0..<positions where level == .portable {
            // M_ξ [tiles, O] = V_ξ [tiles, C] · U_ξ [C, O], on OpenBLAS: a portable level here
            // is the task's, which this worker thread does not see.
            BLAS.gemm(
                matrixProductsLevel: .portable, m: tiles, n: o, k: c,
                a: UnsafeBufferPointer(
                    start: transformedInput + position * cv,
                    count: (tiles * positions - position) * cv),
                lda: positions * cv,
                b: UnsafeBufferPointer(
                    start: transformedFilter + position * o, count: (c * positions - position) * o),
                ldb: positions * o,
                c: UnsafeMutableBufferPointer(
                    start: products + position * ov, count: (tiles * positions - position) * ov),
                ldc: positions * ov)
        }
        let perImage = depthToSpace.map { $0.channels * $0.height * $0.width } ?? o * g.outputHeight * g.outputWidth
        transformOutput(
            plan, images: images, products: products, bias: bias,
            output: output + images.lowerBound * perImage, level: level, depthToSpace: depthToSpace)
    }

    // MARK: - Filter transform

    /// U [C, α², O]: (G g Gᵀ)_ξ for every filter `g` = filter[o, c] (r×r), 8 output channels at
    /// once.
    @inlinable
    static func transformFilter<S: TensorScalar>(
        _ plan: Plan, filter: UnsafePointer<S>, into transformed: UnsafeMutablePointer<S>,
        level: SIMDLevel
    ) {
        let (channels, outputChannels) = (plan.geometry.channels, plan.outputChannels)
        if plan.variant != .f2x2, level > .portable {
            let (c, o) = (Int64(channels), Int64(outputChannels))
            guard plan.variant == .f4x4Kernel2 else {
                if let (x, y) = floats(filter, transformed) {
                    (level == .avx2 ? nabla_winograd_filter_f32_avx2 : nabla_winograd_filter_f32_avx512)(x, c, o, y)
                } else if let (x, y) = doubles(filter, transformed) {
                    (level == .avx2 ? nabla_winograd_filter_f64_avx2 : nabla_winograd_filter_f64_avx512)(x, c, o, y)
                }
                return
            }
            // Input channels split among the workers.
            let parts = max(1, min(BLAS.threadCount, BLAS.onlineCores, channels / 16))
            WorkerPool.run(parts: parts) { part in
                let (first, end) = (Int64(channels * part / parts), Int64(channels * (part + 1) / parts))
                if let (x, y) = floats(filter, transformed) {
                    (level == .avx2 ? nabla_winograd_filter2_f32_avx2 : nabla_winograd_filter2_f32_avx512)(
                        x, c, o, first, end, y)
                } else if let (x, y) = doubles(filter, transformed) {
                    (level == .avx2 ? nabla_winograd_filter2_f64_avx2 : nabla_winograd_filter2_f64_avx512)(
                        x, c, o, first, end, y)
                }
            }
            return
        }
        let r = plan.variant.kernel
        // The filter as [C, r², Ov], zero past O, so a tap of 8 output channels is one load.
        let ov = plan.paddedOutputChannels
        let taps = r * r
        withUnsafeTemporaryAllocation(of: S.self, capacity: channels * taps * ov) { byChannel in
            byChannel.initialize(repeating: 0)
            for o in 0..<outputChannels {
                for c in 0..<channels {
                    for k in 0..<taps { byChannel[(c &* taps &+ k) &* ov &+ o] = filter[(o &* channels &+ c) &* taps &+ k] }
                }
            }
            transformFilter(plan, byChannel: UnsafePointer(byChannel.baseAddress!), into: transformed)
        }
    }

    /// ``transformFilter(_:filter:into:level:)`` in Swift, from the filter as [C, r², Ov].
    @inlinable
    static func transformFilter<S: TensorScalar>(
        _ plan: Plan, byChannel filter: UnsafePointer<S>, into transformed: UnsafeMutablePointer<S>
    ) {
        let alpha = plan.variant.alpha
        let (channels, outputChannels) = (plan.geometry.channels, plan.outputChannels)
        let (r, ov) = (plan.variant.kernel, plan.paddedOutputChannels)
        // Input channels split among the workers.
        let parts = max(1, min(BLAS.threadCount, BLAS.onlineCores, channels / 16))
        WorkerPool.run(parts: parts) { part in
          withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 9 + 6 * 3 + 6) { scratch in
            let taps = scratch.baseAddress!  // g of 8 output channels, [r, r]
            let gg = taps + 9  // G g, [α, r]
            let u = gg + 18  // one row of G g Gᵀ
            for c in stride(from: part, to: channels, by: parts) {
                let target = transformed + c * alpha * alpha * outputChannels
                for o in stride(from: 0, to: outputChannels, by: Plan.lanes) {
                    let lanes = min(Plan.lanes, outputChannels - o)
                    for k in 0..<r * r { taps[k] = load(filter + (c * r * r + k) * ov + o) }
                    for j in 0..<r {
                        filterColumn(
                            plan.variant, taps[j], taps[r + j], r == 3 ? taps[6 + j] : .zero, gg + j,
                            stride: r)
                    }
                    for i in 0..<alpha {
                        let row = gg + i * r
                        filterColumn(plan.variant, row[0], row[1], r == 3 ? row[2] : .zero, u, stride: 1)
                        let to = target + i * alpha * outputChannels + o
                        for j in 0..<alpha {
                            if lanes == Plan.lanes {
                                store(u[j], to + j * outputChannels)
                            } else {
                                for lane in 0..<lanes { to[j * outputChannels + lane] = u[j][lane] }
                            }
                        }
                    }
                }
            }
          }
        }
    }

    /// G x for a column x of r (3, or 2 with `g2` ignored), written to `to[0], to[stride], …`:
    /// α values.
    @inlinable @inline(__always)
    static func filterColumn<S: TensorScalar>(
        _ variant: Variant, _ g0: Vector<S>, _ g1: Vector<S>, _ g2: Vector<S>,
        _ to: UnsafeMutablePointer<Vector<S>>, stride: Int
    ) {
        let half: S = 0.5
        if variant == .f4x4Kernel2 {  // G = [½ 0; −½ −½; −⅙ ⅙; ⅙ ⅓; 0 1]
            let sixth: S = 1 / 6
            let third: S = 1 / 3
            to[0] = g0 * half
            to[stride] = (g0 + g1) * -half
            to[2 * stride] = (g1 - g0) * sixth
            to[3 * stride] = g0 * sixth + g1 * third
            to[4 * stride] = g1
            return
        }
        let outer: Vector<S> = g0 + g2
        if variant == .f2x2 {  // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
            to[0] = g0
            to[stride] = (outer + g1) * half
            to[2 * stride] = (outer - g1) * half
            to[3 * stride] = g2
        } else {  // G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; ¹⁄₂₄ ¹⁄₁₂ ⅙; ¹⁄₂₄ −¹⁄₁₂ ⅙; 0 0 1]
            let quarter: S = 0.25
            let minusSixth: S = -1 / 6
            let twelfth: S = 1 / 12
            let sixth: S = 1 / 6
            let twentyFourth: S = 1 / 24
            let even: Vector<S> = g0 * twentyFourth + g2 * sixth
            let odd: Vector<S> = g1 * twelfth
            to[0] = g0 * quarter
            to[stride] = (outer + g1) * minusSixth
            to[2 * stride] = (outer - g1) * minusSixth
            to[3 * stride] = even + odd
            to[4 * stride] = even - odd
            to[5 * stride] = g2
        }
    }

    // MARK: - Input transform

    /// Copies `images` of the NCHW input into `staging` `[images, Hp, Wp, Cv]`, zero-padded.
    @inlinable
    static func stage<S: TensorScalar>(
        _ plan: Plan, images: Range<Int>, input: UnsafePointer<S>,
        staging: UnsafeMutablePointer<S>, level: SIMDLevel
    ) {
        if let source = plan.spaceToDepthSource {
            return stageSpaceToDepth(plan, source, images: images, input: input, staging: staging, level: level)
        }
        let g = plan.geometry
        stageChannelsLast(
            images: images, source: input, channels: g.channels, height: g.height,
            width: g.width, top: g.configuration.paddingHeight,
            left: g.configuration.paddingWidth, stagedHeight: plan.stagedHeight,
            stagedWidth: plan.stagedWidth, stagedChannels: plan.paddedChannels, into: staging,
            level: level)
    }

    /// Stages `images` of the NCHW input of the stride-2 4×4 convolution `source` as the
    /// space-to-depth input of the plan's 2×2 convolution: source pixel (y, x) of channel c to
    /// staged pixel ((y + p) / 2, (x + p′) / 2), channel (2·((y + p) % 2) + (x + p′) % 2)·C + c;
    /// zero where no source pixel lands.
    @inlinable
    static func stageSpaceToDepth<S: TensorScalar>(
        _ plan: Plan, _ source: Convolution2DGeometry, images: Range<Int>, input: UnsafePointer<S>,
        staging: UnsafeMutablePointer<S>, level: SIMDLevel
    ) {
        let (c, height, width) = (source.channels, source.height, source.width)
        let (top, left) = (source.configuration.paddingHeight, source.configuration.paddingWidth)
        let (stagedHeight, stagedWidth, cv) = (plan.stagedHeight, plan.stagedWidth, plan.paddedChannels)
        let first = input + images.lowerBound * c * height * width
        if level > .portable {
            let sizes = (
                Int64(images.count), Int64(c), Int64(height), Int64(width), Int64(top), Int64(left),
                Int64(stagedHeight), Int64(stagedWidth), Int64(cv))
            if let (x, y) = floats(first, staging) {
                (level == .avx2 ? nabla_winograd_stageSpaceToDepth_f32_avx2 : nabla_winograd_stageSpaceToDepth_f32_avx512)(
                    x, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, sizes.6, sizes.7, sizes.8, y)
            } else if let (x, y) = doubles(first, staging) {
                (level == .avx2 ? nabla_winograd_stageSpaceToDepth_f64_avx2 : nabla_winograd_stageSpaceToDepth_f64_avx512)(
                    x, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, sizes.6, sizes.7, sizes.8, y)
            }
            return
        }
        let imageCount = stagedHeight * stagedWidth * cv
        staging.update(repeating: 0, count: images.count * imageCount)
        for image in 0..<images.count {
            for channel in 0..<c {
                let plane = first + (image * c + channel) * height * width
                for y in 0..<height {
                    let u = (y + top) >> 1
                    guard u < stagedHeight else { break }
                    let row = staging + image * imageCount + u * stagedWidth * cv + 2 * ((y + top) & 1) * c + channel
                    for x in 0..<width {
                        let column = x + left
                        guard column >> 1 < stagedWidth else { break }
                        row[(column >> 1) * cv + (column & 1) * c] = plane[y * width + x]
                    }
                }
            }
        }
    }

    /// Copies `images` of `source` `[N, channels, height, width]` into `staging`
    /// `[images, stagedHeight, stagedWidth, stagedChannels]`, pixel (y, x) at (y + top, x + left)
    /// and zeros everywhere else.
    @inlinable
    static func stageChannelsLast<S: TensorScalar>(
        images: Range<Int>, source: UnsafePointer<S>, channels: Int, height: Int, width: Int,
        top: Int, left: Int, stagedHeight: Int, stagedWidth: Int, stagedChannels: Int,
        into staging: UnsafeMutablePointer<S>, level: SIMDLevel
    ) {
        if level > .portable {
            let first = source + images.lowerBound * channels * height * width
            let sizes = (
                Int64(images.count), Int64(channels), Int64(height), Int64(width), Int64(top),
                Int64(left), Int64(stagedHeight), Int64(stagedWidth), Int64(stagedChannels))
            if let (x, y) = floats(first, staging) {
                (level == .avx2 ? nabla_winograd_stage_f32_avx2 : nabla_winograd_stage_f32_avx512)(
                    x, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, sizes.6, sizes.7,
                    sizes.8, y)
            } else if let (x, y) = doubles(first, staging) {
                (level == .avx2 ? nabla_winograd_stage_f64_avx2 : nabla_winograd_stage_f64_avx512)(
                    x, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, sizes.6, sizes.7,
                    sizes.8, y)
            }
            return
        }
        let imageCount = stagedHeight * stagedWidth * stagedChannels
        let rowCount = stagedWidth * stagedChannels
        let plane = height * width
        for (local, image) in images.enumerated() {
            let target = staging + local * imageCount
            // Zeros: the rows above and below the image, the columns left and right of it, and
            // the channels past `channels`.
            target.update(repeating: 0, count: top * rowCount)
            let below = target + (top + height) * rowCount
            below.update(repeating: 0, count: (stagedHeight - top - height) * rowCount)
            for y in 0..<height {
                let row = target + (top + y) * rowCount
                row.update(repeating: 0, count: left * stagedChannels)
                let right = row + (left + width) * stagedChannels
                right.update(repeating: 0, count: (stagedWidth - left - width) * stagedChannels)
                if channels < stagedChannels {
                    for x in 0..<width {
                        (row + (left + x) * stagedChannels + channels).update(
                            repeating: 0, count: stagedChannels - channels)
                    }
                }
            }
            // 4 channels × 4 pixels at a time, transposed in registers; then the rest singly.
            let from = source + image * channels * plane
            let quads = channels / 4 * 4
            for c in stride(from: 0, to: quads, by: 4) {
                let planes = from + c * plane
                for y in 0..<height {
                    let row = planes + y * width
                    let to = target + ((top + y) * stagedWidth + left) * stagedChannels + c
                    var x = 0
                    while x + 4 <= width {
                        let r0 = load4(row + x)
                        let r1 = load4(row + plane + x)
                        let r2 = load4(row + 2 * plane + x)
                        let r3 = load4(row + 3 * plane + x)
                        let pixel = to + x * stagedChannels
                        store4(SIMD4(r0[0], r1[0], r2[0], r3[0]), pixel)
                        store4(SIMD4(r0[1], r1[1], r2[1], r3[1]), pixel + stagedChannels)
                        store4(SIMD4(r0[2], r1[2], r2[2], r3[2]), pixel + 2 * stagedChannels)
                        store4(SIMD4(r0[3], r1[3], r2[3], r3[3]), pixel + 3 * stagedChannels)
                        x += 4
                    }
                    for x in x..<width {
                        for k in 0..<4 { to[x * stagedChannels + k] = row[k * plane + x] }
                    }
                }
            }
            for c in quads..<channels {
                for y in 0..<height {
                    let row = from + c * plane + y * width
                    let to = target + ((top + y) * stagedWidth + left) * stagedChannels + c
                    for x in 0..<width { to[x &* stagedChannels] = row[x] }
                }
            }
        }
    }

    @inlinable @inline(__always)
    static func load4<S: TensorScalar>(_ p: UnsafePointer<S>) -> SIMD4<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<S>.self)
    }

    @inlinable @inline(__always)
    static func store4<S: TensorScalar>(_ v: SIMD4<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<S>.self)
    }

    /// V_ξ [tiles, Cv] = (Bᵀ d B)_ξ for the patch d of every tile of the staged chunk.
    @inlinable
    static func transformInput<S: TensorScalar>(
        _ plan: Plan, images: Int, staging: UnsafePointer<S>,
        into transformed: UnsafeMutablePointer<S>, level: SIMDLevel
    ) {
        if plan.variant != .f2x2, level > .portable {
            let sizes = (
                Int64(images), Int64(plan.tilesHigh), Int64(plan.tilesWide),
                Int64(plan.stagedHeight), Int64(plan.stagedWidth), Int64(plan.paddedChannels))
            let kernel2 = plan.variant == .f4x4Kernel2
            if let (x, y) = floats(staging, transformed) {
                let avx2 = kernel2 ? nabla_winograd_input2_f32_avx2 : nabla_winograd_input_f32_avx2
                let avx512 = kernel2 ? nabla_winograd_input2_f32_avx512 : nabla_winograd_input_f32_avx512
                (level == .avx2 ? avx2 : avx512)(x, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, y)
            } else if let (x, y) = doubles(staging, transformed) {
                let avx2 = kernel2 ? nabla_winograd_input2_f64_avx2 : nabla_winograd_input_f64_avx2
                let avx512 = kernel2 ? nabla_winograd_input2_f64_avx512 : nabla_winograd_input_f64_avx512
                (level == .avx2 ? avx2 : avx512)(x, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, y)
            }
            return
        }
        let m = plan.variant.tile
        let cv = plan.paddedChannels
        let rowStride = plan.stagedWidth * cv
        let positionStride = cv
        var tile = 0
        for image in 0..<images {
            let staged = staging + image * plan.stagedHeight * rowStride
            for ty in 0..<plan.tilesHigh {
                for tx in 0..<plan.tilesWide {
                    let patch = staged + ty * m * rowStride + tx * m * cv
                    let target = transformed + tile * plan.positions * cv
                    for c in stride(from: 0, to: cv, by: Plan.lanes) {
                        switch plan.variant {
                        case .f4x4:
                            inputTileF4(
                                patch + c, rowStride: rowStride, columnStride: cv,
                                target + c, positionStride: positionStride)
                        case .f2x2:
                            inputTileF2(
                                patch + c, rowStride: rowStride, columnStride: cv,
                                target + c, positionStride: positionStride)
                        case .f4x4Kernel2:
                            inputTileF4Kernel2(
                                patch + c, rowStride: rowStride, columnStride: cv,
                                target + c, positionStride: positionStride)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    @usableFromInline typealias Vector<S: TensorScalar> = SIMD8<S>

    /// `source` and `target` as `Float` pointers, when `S` is `Float`.
    @inlinable @inline(__always)
    static func floats<S: TensorScalar>(
        _ source: UnsafePointer<S>, _ target: UnsafeMutablePointer<S>
    ) -> (UnsafePointer<Float>, UnsafeMutablePointer<Float>)? {
        S.self == Float.self ? (cast(source, Float.self), cast(target, Float.self)) : nil
    }

    /// `source` and `target` as `Double` pointers, when `S` is `Double`.
    @inlinable @inline(__always)
    static func doubles<S: TensorScalar>(
        _ source: UnsafePointer<S>, _ target: UnsafeMutablePointer<S>
    ) -> (UnsafePointer<Double>, UnsafeMutablePointer<Double>)? {
        S.self == Double.self ? (cast(source, Double.self), cast(target, Double.self)) : nil
    }

    @inlinable @inline(__always)
    static func load<S: TensorScalar>(_ p: UnsafePointer<S>) -> Vector<S> {
        UnsafeRawPointer(p).loadUnaligned(as: Vector<S>.self)
    }

    @inlinable @inline(__always)
    static func store<S: TensorScalar>(_ v: Vector<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector<S>.self)
    }

    /// Bᵀ d B for F(4×4, 3×3) on 8 channels: d is 6×6 at `patch`, the 36 results go to
    /// `target + ξ·positionStride`.
    @inlinable @inline(__always)
    static func inputTileF4<S: TensorScalar>(
        _ patch: UnsafePointer<S>, rowStride: Int, columnStride: Int,
        _ target: UnsafeMutablePointer<S>, positionStride: Int
    ) {
        // Bᵀ x for a column x of 6.
        @inline(__always)
        func transform(
            _ d0: Vector<S>, _ d1: Vector<S>, _ d2: Vector<S>, _ d3: Vector<S>, _ d4: Vector<S>,
            _ d5: Vector<S>
        ) -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>, Vector<S>, Vector<S>) {
            let four: S = 4
            let five: S = 5
            let two: S = 2
            let a: Vector<S> = d4 - d2
            let b: Vector<S> = two * (d3 - d1)
            let r0: Vector<S> = four * d0 - five * d2 + d4
            let r1: Vector<S> = (d3 + d4) - four * (d1 + d2)
            let r2: Vector<S> = (d4 - d3) + four * (d1 - d2)
            let r5: Vector<S> = four * d1 - five * d3 + d5
            return (r0, r1, r2, a + b, a - b, r5)
        }
        // Columns first: Bᵀ d, kept as 6 rows of 6.
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 36) { scratch in
            let s = scratch.baseAddress!
            for j in 0..<6 {
                let column = patch + j * columnStride
                let r = transform(
                    load(column), load(column + rowStride), load(column + 2 * rowStride),
                    load(column + 3 * rowStride), load(column + 4 * rowStride),
                    load(column + 5 * rowStride))
                s[j] = r.0
                s[6 + j] = r.1
                s[12 + j] = r.2
                s[18 + j] = r.3
                s[24 + j] = r.4
                s[30 + j] = r.5
            }
            // Then rows: (Bᵀ d) B = (Bᵀ (Bᵀ d)ᵀ)ᵀ.
            for i in 0..<6 {
                let row = s + i * 6
                let r = transform(row[0], row[1], row[2], row[3], row[4], row[5])
                let to = target + i * 6 * positionStride
                store(r.0, to)
                store(r.1, to + positionStride)
                store(r.2, to + 2 * positionStride)
                store(r.3, to + 3 * positionStride)
                store(r.4, to + 4 * positionStride)
                store(r.5, to + 5 * positionStride)
            }
        }
    }

    /// Bᵀ d B for F(2×2, 3×3) on 8 channels: d is 4×4 at `patch`, the 16 results go to
    /// `target + ξ·positionStride`.
    @inlinable @inline(__always)
    static func inputTileF2<S: TensorScalar>(
        _ patch: UnsafePointer<S>, rowStride: Int, columnStride: Int,
        _ target: UnsafeMutablePointer<S>, positionStride: Int
    ) {
        @inline(__always)
        func transform(_ d0: Vector<S>, _ d1: Vector<S>, _ d2: Vector<S>, _ d3: Vector<S>)
            -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>)
        {
            (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 16) { scratch in
            let s = scratch.baseAddress!
            for j in 0..<4 {
                let column = patch + j * columnStride
                let r = transform(
                    load(column), load(column + rowStride), load(column + 2 * rowStride),
                    load(column + 3 * rowStride))
                s[j] = r.0
                s[4 + j] = r.1
                s[8 + j] = r.2
                s[12 + j] = r.3
            }
            for i in 0..<4 {
                let row = s + i * 4
                let r = transform(row[0], row[1], row[2], row[3])
                let to = target + i * 4 * positionStride
                store(r.0, to)
                store(r.1, to + positionStride)
                store(r.2, to + 2 * positionStride)
                store(r.3, to + 3 * positionStride)
            }
        }
    }

    /// Bᵀ d B for F(4×4, 2×2) on 8 channels: d is 5×5 at `patch`, the 25 results go to
    /// `target + ξ·positionStride`.
    @inlinable @inline(__always)
    static func inputTileF4Kernel2<S: TensorScalar>(
        _ patch: UnsafePointer<S>, rowStride: Int, columnStride: Int,
        _ target: UnsafeMutablePointer<S>, positionStride: Int
    ) {
        // Bᵀ x for a column x of 5; Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1].
        @inline(__always)
        func transform(
            _ d0: Vector<S>, _ d1: Vector<S>, _ d2: Vector<S>, _ d3: Vector<S>, _ d4: Vector<S>
        ) -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>, Vector<S>) {
            let two: S = 2
            let three: S = 3
            let r0: Vector<S> = two * (d0 - d2) + (d3 - d1)
            let r1: Vector<S> = d3 - (two * d1 + d2)
            let r2: Vector<S> = two * d1 - three * d2 + d3
            let r4: Vector<S> = two * (d1 - d3) + (d4 - d2)
            return (r0, r1, r2, d3 - d1, r4)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 25) { scratch in
            let s = scratch.baseAddress!  // Bᵀ d, [5, 5]
            for j in 0..<5 {
                let column = patch + j * columnStride
                let r = transform(
                    load(column), load(column + rowStride), load(column + 2 * rowStride),
                    load(column + 3 * rowStride), load(column + 4 * rowStride))
                s[j] = r.0
                s[5 + j] = r.1
                s[10 + j] = r.2
                s[15 + j] = r.3
                s[20 + j] = r.4
            }
            for i in 0..<5 {
                let row = s + i * 5
                let r = transform(row[0], row[1], row[2], row[3], row[4])
                let to = target + i * 5 * positionStride
                store(r.0, to)
                store(r.1, to + positionStride)
                store(r.2, to + 2 * positionStride)
                store(r.3, to + 3 * positionStride)
                store(r.4, to + 4 * positionStride)
            }
        }
    }

    // MARK: - Output transform

    /// Writes Aᵀ m A of every tile's products into the NCHW output of `images`; `output` points
    /// at the first image's `[O, oh, ow]`, or with `depthToSpace` (whose space-to-depth 2×2
    /// convolution's input gradient this is) at its `[C, H, W]`, reduced pixel (u, v) of channel
    /// (2a + b)·C + c at pixel (2u + a − top, 2v + b − left) of channel c where inside. Edge
    /// tiles write only their outputs inside oh × ow.
    @inlinable
    static func transformOutput<S: TensorScalar>(
        _ plan: Plan, images: Range<Int>, products: UnsafePointer<S>, bias: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, level: SIMDLevel, depthToSpace: Convolution2DGeometry? = nil
    ) {
        let g = plan.geometry
        if let d = depthToSpace, level > .portable {
            let sizes = (
                Int64(images.count), Int64(plan.tilesHigh), Int64(plan.tilesWide),
                Int64(g.outputHeight), Int64(g.outputWidth), Int64(plan.outputChannels),
                Int64(plan.paddedOutputChannels))
            let target = (
                Int64(d.channels), Int64(d.height), Int64(d.width), Int64(d.configuration.paddingHeight),
                Int64(d.configuration.paddingWidth))
            if let (x, y) = floats(products, output) {
                (level == .avx2 ? nabla_winograd_outputDepthToSpace2_f32_avx2 : nabla_winograd_outputDepthToSpace2_f32_avx512)(
                    x, bias.map { cast($0, Float.self) }, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5,
                    sizes.6, target.0, target.1, target.2, target.3, target.4, y)
            } else if let (x, y) = doubles(products, output) {
                (level == .avx2 ? nabla_winograd_outputDepthToSpace2_f64_avx2 : nabla_winograd_outputDepthToSpace2_f64_avx512)(
                    x, bias.map { cast($0, Double.self) }, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5,
                    sizes.6, target.0, target.1, target.2, target.3, target.4, y)
            }
            return
        }
        if plan.variant != .f2x2, level > .portable {
            let sizes = (
                Int64(images.count), Int64(plan.tilesHigh), Int64(plan.tilesWide),
                Int64(g.outputHeight), Int64(g.outputWidth), Int64(plan.outputChannels),
                Int64(plan.paddedOutputChannels))
            let kernel2 = plan.variant == .f4x4Kernel2
            if let (x, y) = floats(products, output) {
                let avx2 = kernel2 ? nabla_winograd_output2_f32_avx2 : nabla_winograd_output_f32_avx2
                let avx512 = kernel2 ? nabla_winograd_output2_f32_avx512 : nabla_winograd_output_f32_avx512
                (level == .avx2 ? avx2 : avx512)(
                    x, bias.map { cast($0, Float.self) }, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, sizes.6, y)
            } else if let (x, y) = doubles(products, output) {
                let avx2 = kernel2 ? nabla_winograd_output2_f64_avx2 : nabla_winograd_output_f64_avx2
                let avx512 = kernel2 ? nabla_winograd_output2_f64_avx512 : nabla_winograd_output_f64_avx512
                (level == .avx2 ? avx2 : avx512)(
                    x, bias.map { cast($0, Double.self) }, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, sizes.6, y)
            }
            return
        }
        let m = plan.variant.tile
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let plane = outputHeight * outputWidth
        let outputChannels = plan.outputChannels
        let ov = plan.paddedOutputChannels
        let positionStride = ov
        var tile = 0
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 16) { results in
            let y = results.baseAddress!
            for image in 0..<images.count {
                let target = output + image * outputChannels * plane
                for ty in 0..<plan.tilesHigh {
                    let rows = min(m, outputHeight - ty * m)
                    for tx in 0..<plan.tilesWide {
                        let columns = min(m, outputWidth - tx * m)
                        let source = products + tile * plan.positions * ov
                        for o in stride(from: 0, to: outputChannels, by: Plan.lanes) {
                            switch plan.variant {
                            case .f4x4: outputTileF4(source + o, positionStride: positionStride, y)
                            case .f2x2: outputTileF2(source + o, positionStride: positionStride, y)
                            case .f4x4Kernel2:
                                outputTileF4Kernel2(source + o, positionStride: positionStride, y)
                            }
                            if let bias {
                                let b = load(bias + o)
                                for position in 0..<m * m { y[position] += b }
                            }
                            let lanes = min(Plan.lanes, outputChannels - o)
                            if let d = depthToSpace {
                                storeDepthToSpace(
                                    y, lanes: lanes, channel: o, tile: (ty, tx), plan: plan, d,
                                    output + image * d.channels * d.height * d.width)
                                continue
                            }
                            let corner = target + o * plane + ty * m * outputWidth + tx * m
                            if m == 4 && rows == 4 && columns == 4 && lanes == Plan.lanes {
                                storeFullTileF4(y, corner, plane: plane, width: outputWidth)
                                continue
                            }
                            for lane in 0..<lanes {
                                let to = corner + lane * plane
                                for r in 0..<rows {
                                    for c in 0..<columns {
                                        to[r * outputWidth + c] = y[r * m + c][lane]
                                    }
                                }
                            }
                        }
                        tile += 1
                    }
                }
            }
        }
    }

    /// Stores the 4×4 results `y` of `lanes` channels `channel…` of tile `tile` into `image`, the
    /// `[C, H, W]` of `target` (see ``transformOutput(_:images:products:bias:output:level:depthToSpace:)``).
    @inlinable
    static func storeDepthToSpace<S: TensorScalar>(
        _ y: UnsafeMutablePointer<Vector<S>>, lanes: Int, channel: Int, tile: (y: Int, x: Int), plan: Plan,
        _ target: Convolution2DGeometry, _ image: UnsafeMutablePointer<S>
    ) {
        let (height, width) = (target.height, target.width)
        let (top, left) = (target.configuration.paddingHeight, target.configuration.paddingWidth)
        for lane in 0..<lanes {
            let phase = (channel + lane) / target.channels
            let to = image + (channel + lane - phase * target.channels) * height * width
            for r in 0..<4 {
                let (u, row) = (tile.y * 4 + r, 2 * (tile.y * 4 + r) + (phase >> 1) - top)
                guard u < plan.geometry.outputHeight, row >= 0, row < height else { continue }
                for c in 0..<4 {
                    let (v, column) = (tile.x * 4 + c, 2 * (tile.x * 4 + c) + (phase & 1) - left)
                    if v < plan.geometry.outputWidth, column >= 0, column < width {
                        to[row * width + column] = y[r * 4 + c][lane]
                    }
                }
            }
        }
    }

    /// Stores 4×4 results of 8 channels, `y` row-major, to the channel planes at `corner`,
    /// `corner + plane`, …, one row of 4 at a time.
    @inlinable @inline(__always)
    static func storeFullTileF4<S: TensorScalar>(
        _ y: UnsafeMutablePointer<Vector<S>>, _ corner: UnsafeMutablePointer<S>, plane: Int,
        width: Int
    ) {
        for lane in 0..<Plan.lanes {
            let to = corner + lane &* plane
            for r in 0..<4 {
                let row = SIMD4<S>(
                    y[4 &* r][lane], y[4 &* r &+ 1][lane], y[4 &* r &+ 2][lane],
                    y[4 &* r &+ 3][lane])
                UnsafeMutableRawPointer(to + r &* width).storeBytes(of: row, as: SIMD4<S>.self)
            }
        }
    }

    /// Aᵀ m A for F(4×4, 3×3) on 8 channels: m is 6×6 at `source + ξ·positionStride`; the 4×4
    /// results go to `y` row-major.
    @inlinable @inline(__always)
    static func outputTileF4<S: TensorScalar>(
        _ source: UnsafePointer<S>, positionStride: Int, _ y: UnsafeMutablePointer<Vector<S>>
    ) {
        @inline(__always)
        func transform(
            _ m0: Vector<S>, _ m1: Vector<S>, _ m2: Vector<S>, _ m3: Vector<S>, _ m4: Vector<S>,
            _ m5: Vector<S>
        ) -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>) {
            let two: S = 2
            let four: S = 4
            let eight: S = 8
            let sum12: Vector<S> = m1 + m2
            let difference12: Vector<S> = m1 - m2
            let sum34: Vector<S> = m3 + m4
            let difference34: Vector<S> = m3 - m4
            let y0: Vector<S> = m0 + sum12 + sum34
            let y1: Vector<S> = difference12 + two * difference34
            let y2: Vector<S> = sum12 + four * sum34
            let y3: Vector<S> = difference12 + eight * difference34 + m5
            return (y0, y1, y2, y3)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 24) { scratch in
            let s = scratch.baseAddress!  // Aᵀ m, [4, 6]
            for j in 0..<6 {
                let column = source + j * positionStride
                let r = transform(
                    load(column), load(column + 6 * positionStride),
                    load(column + 12 * positionStride), load(column + 18 * positionStride),
                    load(column + 24 * positionStride), load(column + 30 * positionStride))
                s[j] = r.0
                s[6 + j] = r.1
                s[12 + j] = r.2
                s[18 + j] = r.3
            }
            for i in 0..<4 {
                let row = s + i * 6
                let r = transform(row[0], row[1], row[2], row[3], row[4], row[5])
                y[i * 4] = r.0
                y[i * 4 + 1] = r.1
                y[i * 4 + 2] = r.2
                y[i * 4 + 3] = r.3
            }
        }
    }

    /// Aᵀ m A for F(4×4, 2×2) on 8 channels: m is 5×5 at `source + ξ·positionStride`; the 4×4
    /// results go to `y` row-major.
    @inlinable @inline(__always)
    static func outputTileF4Kernel2<S: TensorScalar>(
        _ source: UnsafePointer<S>, positionStride: Int, _ y: UnsafeMutablePointer<Vector<S>>
    ) {
        // Aᵀ x for a column x of 5; Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 0; 0 1 −1 8 1].
        @inline(__always)
        func transform(
            _ m0: Vector<S>, _ m1: Vector<S>, _ m2: Vector<S>, _ m3: Vector<S>, _ m4: Vector<S>
        ) -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>) {
            let two: S = 2
            let four: S = 4
            let eight: S = 8
            let sum12: Vector<S> = m1 + m2
            let difference12: Vector<S> = m1 - m2
            return (m0 + sum12 + m3, difference12 + two * m3, sum12 + four * m3, difference12 + eight * m3 + m4)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 20) { scratch in
            let s = scratch.baseAddress!  // Aᵀ m, [4, 5]
            for j in 0..<5 {
                let column = source + j * positionStride
                let r = transform(
                    load(column), load(column + 5 * positionStride),
                    load(column + 10 * positionStride), load(column + 15 * positionStride),
                    load(column + 20 * positionStride))
                s[j] = r.0
                s[5 + j] = r.1
                s[10 + j] = r.2
                s[15 + j] = r.3
            }
            for i in 0..<4 {
                let row = s + i * 5
                let r = transform(row[0], row[1], row[2], row[3], row[4])
                y[i * 4] = r.0
                y[i * 4 + 1] = r.1
                y[i * 4 + 2] = r.2
                y[i * 4 + 3] = r.3
            }
        }
    }

    /// Aᵀ m A for F(2×2, 3×3) on 8 channels: m is 4×4 at `source + ξ·positionStride`; the 2×2
    /// results go to `y` row-major.
    @inlinable @inline(__always)
    static func outputTileF2<S: TensorScalar>(
        _ source: UnsafePointer<S>, positionStride: Int, _ y: UnsafeMutablePointer<Vector<S>>
    ) {
        @inline(__always)
        func transform(_ m0: Vector<S>, _ m1: Vector<S>, _ m2: Vector<S>, _ m3: Vector<S>)
            -> (Vector<S>, Vector<S>)
        {
            (m0 + m1 + m2, m1 - m2 - m3)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 8) { scratch in
            let s = scratch.baseAddress!  // Aᵀ m, [2, 4]
            for j in 0..<4 {
                let column = source + j * positionStride
                let r = transform(
                    load(column), load(column + 4 * positionStride),
                    load(column + 8 * positionStride), load(column + 12 * positionStride))
                s[j] = r.0
                s[4 + j] = r.1
            }
            for i in 0..<2 {
                let row = s + i * 4
                let r = transform(row[0], row[1], row[2], row[3])
                y[i * 2] = r.0
                y[i * 2 + 1] = r.1
            }
        }
    }
}

// MARK: - Filter gradient

extension WinogradKernels {
    /// Writes the gradient of the convolution with respect to its filter into `filterGradient`.
    ///
    /// With Y = Aᵀ [U ⊙ V] A per tile and U = G g Gᵀ, the gradient is
    /// dg = Gᵀ [Σ_tiles V ⊙ (A dY Aᵀ)] G: per position ξ one product
    /// dU_ξ [C, O] += V_ξᵀ [C, tiles] · dM_ξ [tiles, O], accumulated over the chunks.
    ///
    /// Shapes: `input` is `[N, C, H, W]`, `outputGradient` is `[N, O, oh, ow]` and
    /// `filterGradient` is `[O, C, 3, 3]`, contiguous, with the sizes of `geometry`;
    /// `O = filterGradient.count / (9·C)`. `workspace` is as in
    /// ``convolution2D(_:variant:input:filter:bias:output:workspace:spaceToDepthSource:depthToSpaceTarget:)``. An empty batch gives zeros.
    ///
    /// - Precondition: `supports(geometry)`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func filterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, variant: Variant = .f4x4,
        input: UnsafeBufferPointer<S>, outputGradient: UnsafeBufferPointer<S>,
        filterGradient: UnsafeMutableBufferPointer<S>,
        biasGradient: UnsafeMutableBufferPointer<S>? = nil,
        workspace: UnsafeMutableBufferPointer<S>, spaceToDepthSource: Convolution2DGeometry? = nil
    ) {
        let outputChannels = Misuse.checkWinogradBuffers(
            "winogradFilterGradient", geometry, filter: ("filter gradient", filterGradient.count),
            input: input.count, output: ("output gradient", outputGradient.count), inputGeometry: spaceToDepthSource)
        if let biasGradient {
            Misuse.check(
                biasGradient.count == outputChannels, "winogradFilterGradient",
                "bias gradient has \(biasGradient.count) scalars, but there are "
                    + "\(outputChannels) output channels")
        }
        let plan = Plan(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: spaceToDepthSource,
            scalar: S.self)
        Misuse.checkWorkspace("winogradFilterGradient", workspace.count, needs: plan.partCount)
        guard geometry.batch > 0 else {
            biasGradient?.update(repeating: 0)
            return filterGradient.update(repeating: 0)
        }
        // Each part sums its chunks' staged output gradient per channel, in a row of these.
        let ov = plan.paddedOutputChannels
        let partCount = plan.parts(workspace: workspace.count)
        withUnsafeTemporaryAllocation(of: S.self, capacity: biasGradient == nil ? 0 : partCount * ov) { sums in
            sums.initialize(repeating: 0)
            filterGradientOverChunks(
                plan, input: input, outputGradient: outputGradient, filterGradient: filterGradient,
                channelSums: biasGradient == nil ? nil : sums.baseAddress!, workspace: workspace)
            if let biasGradient {
                for part in 1..<max(partCount, 1) {
                    for channel in 0..<ov { sums[channel] += sums[part * ov + channel] }
                }
                _ = biasGradient.update(fromContentsOf: sums[..<outputChannels])
            }
        }
    }

    /// ``filterGradient(_:variant:input:outputGradient:filterGradient:biasGradient:workspace:spaceToDepthSource:)``
    /// for a batch of at least one image; part p adds its channel sums to `channelSums + p·Ov`.
    @inlinable
    static func filterGradientOverChunks<S: TensorScalar>(
        _ plan: Plan, input: UnsafeBufferPointer<S>, outputGradient: UnsafeBufferPointer<S>,
        filterGradient: UnsafeMutableBufferPointer<S>, channelSums: UnsafeMutablePointer<S>?,
        workspace: UnsafeMutableBufferPointer<S>
    ) {
        let (positions, ov) = (plan.positions, plan.paddedOutputChannels)
        let parts = plan.parts(workspace: workspace.count)
        let level = KernelFamily.winogradTransforms.levelForRun()
        if level > .portable { countMultiplyAdds(plan) }
        // Each part accumulates dU [C, α², O] at the start of its workspace.
        for part in 0..<parts {
            (workspace.baseAddress! + part * plan.partCount).update(
                repeating: 0, count: plan.filterCount)
        }
        forEachChunk(plan, workspace: workspace) { images, part in
            let transformedGradient = part
            let staging = part + plan.filterCount
            let partIndex = (part - workspace.baseAddress!) / plan.partCount
            let transformedInput = staging + plan.stagingCount
            let products =
                transformedInput + positions * plan.tilesPerChunk * plan.paddedChannels
            stage(plan, images: images, input: input.baseAddress!, staging: staging, level: level)
            transformInput(
                plan, images: images.count, staging: staging, into: transformedInput,
                level: level)
            accumulateFilterGradient(
                plan, images: images, outputGradient: outputGradient.baseAddress!, staging: staging,
                transformedInput: transformedInput, products: products, into: transformedGradient,
                channelSums: channelSums.map { $0 + partIndex * ov }, level: level)
        }
        let sum = workspace.baseAddress!
        for part in 1..<parts {
            let other = sum + part * plan.partCount
            for index in 0..<plan.filterCount { sum[index] += other[index] }
        }
        untransformFilterGradient(plan, sum, into: filterGradient.baseAddress!, level: level)
    }

    /// The convolution of `input` with `filter` into `output` and its filter gradient for
    /// `outputGradient` into `filterGradient`, in one pass over the input (a transposed
    /// convolution's backward): chunks of images, in parallel, stage and transform the input to V
    /// once, multiply M = V·U and transform it to the output, and transform the output gradient
    /// to dM; then each position's dU_ξ += V_ξᵀ·dM_ξ runs over a group of chunks at once,
    /// positions split among the workers. Groups hold as many whole chunks as `groupBytes` of V
    /// and dM allow and add to dU in batch order, so the result has the same bits at any thread
    /// count. Adds the input's channel sums (over images and pixels) to `inputChannelSums` if given.
    ///
    /// Shapes as in ``convolution2D(_:variant:input:filter:bias:output:workspace:spaceToDepthSource:depthToSpaceTarget:)``
    /// and ``filterGradient(_:variant:input:outputGradient:filterGradient:biasGradient:workspace:spaceToDepthSource:)``;
    /// `workspace` holds ``fusedWorkspaceCount(_:parts:groupBytes:)`` scalars, and `inputChannelSums`
    /// the input's C.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func convolutionAndFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, variant: Variant = .f4x4,
        input: UnsafeBufferPointer<S>, filter: UnsafeBufferPointer<S>, output: UnsafeMutableBufferPointer<S>,
        outputGradient: UnsafeBufferPointer<S>, filterGradient: UnsafeMutableBufferPointer<S>,
        inputChannelSums: UnsafeMutableBufferPointer<S>?, workspace: UnsafeMutableBufferPointer<S>,
        spaceToDepthSource: Convolution2DGeometry? = nil, groupBytes: Int = onePassGroupBytes
    ) {
        let op = "winogradConvolutionAndFilterGradient"
        let outputChannels = Misuse.checkWinogradBuffers(
            op, geometry, filter: ("filter", filter.count), input: input.count,
            output: ("output", output.count), inputGeometry: spaceToDepthSource)
        Misuse.check(
            filterGradient.count == filter.count && outputGradient.count == output.count, op,
            "filter gradient \(filterGradient.count) and output gradient \(outputGradient.count) scalars "
                + "must match the filter's \(filter.count) and the output's \(output.count)")
        let plan = Plan(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: spaceToDepthSource,
            scalar: S.self)
        Misuse.checkWorkspace(op, workspace.count, needs: fusedWorkspaceCount(plan, parts: 1, groupBytes: groupBytes))
        let inputChannels = spaceToDepthSource?.channels ?? geometry.channels
        if let inputChannelSums {
            Misuse.check(
                inputChannelSums.count == inputChannels, op,
                "input channel sums have \(inputChannelSums.count) scalars, not \(inputChannels)")
            Misuse.check(
                !plan.dropsSourcePixels, op,
                "input channel sums need every input pixel staged; \(spaceToDepthSource.map { "\($0)" } ?? "") leaves some out")
        }
        guard geometry.batch > 0 else { return filterGradient.update(repeating: 0) }
        let level = KernelFamily.winogradTransforms.levelForRun()
        if level > .portable {
            countMultiplyAdds(plan)
            countMultiplyAdds(plan)
        }
        let (positions, cv, ov) = (plan.positions, plan.paddedChannels, plan.paddedOutputChannels)
        let (c, o) = (geometry.channels, outputChannels)
        let groupImages = imagesPerGroup(plan, groupBytes: groupBytes)
        let groupTiles = groupImages * plan.tilesPerImage
        // U, and dU in U's place for one group (U is not read after its products) or after it;
        // V and dM of one group; each part's staging and M.
        let transformedFilter = workspace.baseAddress!
        let dU = transformedFilter + (groupImages < geometry.batch ? plan.filterCount : 0)
        let transformedInput = transformedFilter + fusedFilterCount(plan, groupImages: groupImages)
        let transformedGradient = transformedInput + groupTiles * positions * cv
        let scratch = transformedGradient + groupTiles * positions * ov
        let fixedCount = fusedWorkspaceCount(plan, parts: 0, groupBytes: groupBytes)
        let parts = max(1, min(plan.parts, (workspace.count - fixedCount) / fusedPartCount(plan)))
        transformFilter(plan, filter: filter.baseAddress!, into: transformedFilter, level: level)
        let (stagedChannels, pixelsPerImage) = (cv, plan.stagedHeight * plan.stagedWidth)
        let sumsCount = inputChannelSums == nil ? 0 : parts * stagedChannels
        withUnsafeTemporaryAllocation(of: S.self, capacity: sumsCount) { sums in
          sums.initialize(repeating: 0)
          for (group, groupStart) in stride(from: 0, to: geometry.batch, by: groupImages).enumerated() {
            let groupEnd = min(groupStart + groupImages, geometry.batch)
            let chunks = (groupEnd - groupStart + plan.imagesPerChunk - 1) / plan.imagesPerChunk
            WorkerPool.run(parts: parts) { part in
                let staging = scratch + part * fusedPartCount(plan)
                let products = staging + plan.stagingCount
                for chunk in stride(from: part, to: chunks, by: parts) {
                    let first = groupStart + chunk * plan.imagesPerChunk
                    let images = first..<min(first + plan.imagesPerChunk, groupEnd)
                    let firstTile = (first - groupStart) * plan.tilesPerImage
                    let chunkInput = transformedInput + firstTile * positions * cv
                    stage(plan, images: images, input: input.baseAddress!, staging: staging, level: level)
                    if inputChannelSums != nil {
                        addChannelSums(
                            staging, pixels: images.count * pixelsPerImage, channels: stagedChannels,
                            into: sums.baseAddress! + part * stagedChannels, level: level)
                    }
                    transformInput(plan, images: images.count, staging: staging, into: chunkInput, level: level)
                    multiplyAndTransformOutput(
                        plan, images: images, transformedInput: chunkInput, transformedFilter: transformedFilter,
                        products: products, bias: nil, output: output.baseAddress!, level: level)
                    stageChannelsLast(
                        images: images, source: outputGradient.baseAddress!, channels: o,
                        height: geometry.outputHeight, width: geometry.outputWidth, top: 0, left: 0,
                        stagedHeight: plan.tilesHigh * plan.variant.tile, stagedWidth: plan.tilesWide * plan.variant.tile,
                        stagedChannels: ov, into: staging, level: level)
                    transformGradient(
                        plan, images: images.count, staging: staging,
                        into: transformedGradient + firstTile * positions * ov, level: level)
                }
            }
            // dU_ξ [C, O] (+)= V_ξᵀ [C, tiles] · dM_ξ [tiles, O] over the group.
            let tiles = (groupEnd - groupStart) * plan.tilesPerImage
            func multiply(_ position: Int) {
                guard level > .portable else {
                    return BLAS.gemm(
                        matrixProductsLevel: .portable, transposeA: true, m: c, n: o, k: tiles,
                        a: UnsafeBufferPointer(start: transformedInput + position * cv, count: (tiles * positions - position) * cv),
                        lda: positions * cv,
                        b: UnsafeBufferPointer(start: transformedGradient + position * ov, count: (tiles * positions - position) * ov),
                        ldb: positions * ov, beta: group > 0 ? 1 : 0,
                        c: UnsafeMutableBufferPointer(start: dU + position * o, count: (c * positions - position) * o),
                        ldc: positions * o)
                }
                SmallGEMM.multiply(
                    level: level, m: c, n: o, k: tiles, a: transformedInput + position * cv, aRowStride: 1,
                    aDepthStride: positions * cv, b: transformedGradient + position * ov, ldb: positions * ov,
                    c: dU + position * o, ldc: positions * o, accumulate: group > 0)
            }
            if level > .portable {
                WorkerPool.run(parts: parts) { part in
                    for position in stride(from: part, to: positions, by: parts) { multiply(position) }
                }
            } else {
                for position in 0..<positions { multiply(position) }  // OpenBLAS threads each product
            }
          }
          if let inputChannelSums {
                for part in 1..<parts {
                    for channel in 0..<stagedChannels { sums[channel] += sums[part * stagedChannels + channel] }
                }
                // Space-to-depth holds channel c in its four phases' channels phase·C + c.
                let phases = spaceToDepthSource == nil ? 1 : 4
                for phase in 0..<phases {
                    for channel in 0..<inputChannels { inputChannelSums[channel] += sums[phase * inputChannels + channel] }
                }
          }
        }
        untransformFilterGradient(plan, dU, into: filterGradient.baseAddress!, level: level)
    }

    /// The scalars one part of ``convolutionAndFilterGradient(_:variant:input:filter:output:outputGradient:filterGradient:inputChannelSums:workspace:spaceToDepthSource:groupBytes:)``
    /// uses: a chunk's staging and its products M.
    @inlinable
    static func fusedPartCount(_ plan: Plan) -> Int {
        plan.stagingCount + plan.positions * plan.tilesPerChunk * plan.paddedOutputChannels
    }

    /// The most bytes of V and dM one group of ``convolutionAndFilterGradient(_:variant:input:filter:output:outputGradient:filterGradient:inputChannelSums:workspace:spaceToDepthSource:groupBytes:)``
    /// holds: 64 MiB, so the workspace stays bounded whatever the batch.
    public static let onePassGroupBytes = 1 << 26

    /// U, and dU after it when there are several groups (each group's products read U).
    @inlinable
    static func fusedFilterCount(_ plan: Plan, groupImages: Int) -> Int {
        (groupImages < plan.geometry.batch ? 2 : 1) * plan.filterCount
    }

    /// The images of one group: whole chunks, as many as `groupBytes` of V and dM allow (at least
    /// one chunk), and no more than the batch.
    @inlinable
    static func imagesPerGroup(_ plan: Plan, groupBytes: Int) -> Int {
        let perImage =
            plan.tilesPerImage * plan.positions * (plan.paddedChannels + plan.paddedOutputChannels) * plan.scalarBytes
        let chunks = max(1, groupBytes / max(1, perImage * plan.imagesPerChunk))
        return min(plan.geometry.batch, chunks * plan.imagesPerChunk)
    }

    /// The workspace of ``convolutionAndFilterGradient(_:variant:input:filter:output:outputGradient:filterGradient:inputChannelSums:workspace:spaceToDepthSource:groupBytes:)``
    /// with `parts` parts (``Plan/parts`` by default): U (and dU with several groups), one group's
    /// V and dM, and each part's scratch.
    @inlinable
    public static func fusedWorkspaceCount(_ plan: Plan, parts: Int? = nil, groupBytes: Int = onePassGroupBytes) -> Int {
        let groupImages = imagesPerGroup(plan, groupBytes: groupBytes)
        let tiles = groupImages * plan.tilesPerImage
        return fusedFilterCount(plan, groupImages: groupImages) + tiles * plan.positions * (plan.paddedChannels + plan.paddedOutputChannels)
            + (parts ?? plan.parts) * fusedPartCount(plan)
    }

    /// Stages `images` of the output gradient, transforms it to dM and adds Vᵀ·dM to dU
    /// (`transformedGradient`), for a chunk whose transformed input V is `transformedInput`;
    /// adds the output gradient's channel sums to `channelSums` if given.
    @inlinable
    static func accumulateFilterGradient<S: TensorScalar>(
        _ plan: Plan, images: Range<Int>, outputGradient: UnsafePointer<S>, staging: UnsafeMutablePointer<S>,
        transformedInput: UnsafePointer<S>, products: UnsafeMutablePointer<S>,
        into transformedGradient: UnsafeMutablePointer<S>, channelSums: UnsafeMutablePointer<S>?,
        level: SIMDLevel
    ) {
        let (geometry, outputChannels) = (plan.geometry, plan.outputChannels)
        let (oh, ow) = (geometry.outputHeight, geometry.outputWidth)
        let (c, o, positions) = (geometry.channels, outputChannels, plan.positions)
        let (cv, ov, m) = (plan.paddedChannels, plan.paddedOutputChannels, plan.variant.tile)
        let tiles = images.count * plan.tilesPerImage
        stageChannelsLast(
            images: images, source: outputGradient, channels: o, height: oh,
            width: ow, top: 0, left: 0, stagedHeight: plan.tilesHigh * m,
            stagedWidth: plan.tilesWide * m, stagedChannels: ov, into: staging, level: level)
        if let channelSums {
            addChannelSums(
                staging, pixels: images.count * plan.tilesHigh * m * plan.tilesWide * m,
                channels: ov, into: channelSums, level: level)
        }
        transformGradient(
            plan, images: images.count, staging: staging, into: products, level: level)
        for position in 0..<positions where level > .portable {
            // dU_ξ [C, O] += V_ξᵀ [C, tiles] · dM_ξ [tiles, O]
            SmallGEMM.multiply(
                level: level, m: c, n: o, k: tiles, a: transformedInput + position * cv,
                aRowStride: 1, aDepthStride: positions * cv, b: products + position * ov,
                ldb: positions * ov, c: transformedGradient + position * o,
                ldc: positions * o, accumulate: true)
        }
        for position in 0..<positions where level == .portable {
            // dU_ξ [C, O] += V_ξᵀ [C, tiles] · dM_ξ [tiles, O], on OpenBLAS as above
            BLAS.gemm(
                matrixProductsLevel: .portable, transposeA: true, m: c, n: o, k: tiles,
                a: UnsafeBufferPointer(
                    start: transformedInput + position * cv,
                    count: (tiles * positions - position) * cv),
                lda: positions * cv,
                b: UnsafeBufferPointer(
                    start: products + position * ov,
                    count: (tiles * positions - position) * ov),
                ldb: positions * ov,
                beta: 1,
                c: UnsafeMutableBufferPointer(
                    start: transformedGradient + position * o,
                    count: (c * positions - position) * o),
                ldc: positions * o)
        }
    }

    /// `sums[c] += Σ_p staging[p·channels + c]` over a channels-last buffer, each channel in pixel
    /// order at every level (the same bits).
    @inlinable
    static func addChannelSums<S: TensorScalar>(
        _ staging: UnsafePointer<S>, pixels: Int, channels: Int, into sums: UnsafeMutablePointer<S>,
        level: SIMDLevel
    ) {
        if level > .portable {
            if let (x, y) = floats(staging, sums) {
                (level == .avx2 ? nabla_winograd_channelSums_f32_avx2 : nabla_winograd_channelSums_f32_avx512)(
                    x, Int64(pixels), Int64(channels), y)
            } else if let (x, y) = doubles(staging, sums) {
                (level == .avx2 ? nabla_winograd_channelSums_f64_avx2 : nabla_winograd_channelSums_f64_avx512)(
                    x, Int64(pixels), Int64(channels), y)
            }
            return
        }
        withUnsafeTemporaryAllocation(of: S.self, capacity: channels) { chunk in
            chunk.initialize(repeating: 0)
            for pixel in 0..<pixels {
                let row = staging + pixel * channels
                for channel in 0..<channels { chunk[channel] += row[channel] }
            }
            for channel in 0..<channels { sums[channel] += chunk[channel] }
        }
    }

    /// dM [tiles, α², Ov] = A dY Aᵀ for the m×m gradient tile dY of every tile, from the staged
    /// gradient `[images, tilesHigh·m, tilesWide·m, Ov]`.
    @inlinable
    static func transformGradient<S: TensorScalar>(
        _ plan: Plan, images: Int, staging: UnsafePointer<S>,
        into transformed: UnsafeMutablePointer<S>, level: SIMDLevel
    ) {
        if plan.variant != .f2x2, level > .portable {
            let sizes = (
                Int64(images), Int64(plan.tilesHigh), Int64(plan.tilesWide),
                Int64(plan.paddedOutputChannels))
            let kernel2 = plan.variant == .f4x4Kernel2
            if let (x, y) = floats(staging, transformed) {
                let avx2 = kernel2 ? nabla_winograd_gradient2_f32_avx2 : nabla_winograd_gradient_f32_avx2
                let avx512 = kernel2 ? nabla_winograd_gradient2_f32_avx512 : nabla_winograd_gradient_f32_avx512
                (level == .avx2 ? avx2 : avx512)(x, sizes.0, sizes.1, sizes.2, sizes.3, y)
            } else if let (x, y) = doubles(staging, transformed) {
                let avx2 = kernel2 ? nabla_winograd_gradient2_f64_avx2 : nabla_winograd_gradient_f64_avx2
                let avx512 = kernel2 ? nabla_winograd_gradient2_f64_avx512 : nabla_winograd_gradient_f64_avx512
                (level == .avx2 ? avx2 : avx512)(x, sizes.0, sizes.1, sizes.2, sizes.3, y)
            }
            return
        }
        let m = plan.variant.tile
        let ov = plan.paddedOutputChannels
        let rowStride = plan.tilesWide * m * ov
        var tile = 0
        for image in 0..<images {
            let staged = staging + image * plan.tilesHigh * m * rowStride
            for ty in 0..<plan.tilesHigh {
                for tx in 0..<plan.tilesWide {
                    let patch = staged + ty * m * rowStride + tx * m * ov
                    let target = transformed + tile * plan.positions * ov
                    for o in stride(from: 0, to: ov, by: Plan.lanes) {
                        switch plan.variant {
                        case .f4x4:
                            gradientTileF4(
                                patch + o, rowStride: rowStride, columnStride: ov, target + o,
                                positionStride: ov)
                        case .f2x2:
                            gradientTileF2(
                                patch + o, rowStride: rowStride, columnStride: ov, target + o,
                                positionStride: ov)
                        case .f4x4Kernel2:
                            gradientTileF4Kernel2(
                                patch + o, rowStride: rowStride, columnStride: ov, target + o,
                                positionStride: ov)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// A y Aᵀ for F(4×4, 3×3) on 8 channels: y is 4×4 at `patch`, the 36 results go to
    /// `target + ξ·positionStride`.
    @inlinable @inline(__always)
    static func gradientTileF4<S: TensorScalar>(
        _ patch: UnsafePointer<S>, rowStride: Int, columnStride: Int,
        _ target: UnsafeMutablePointer<S>, positionStride: Int
    ) {
        // A x for a column x of 4; A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 2 4 8; 1 −2 4 −8; 0 0 0 1].
        @inline(__always)
        func transform(_ y0: Vector<S>, _ y1: Vector<S>, _ y2: Vector<S>, _ y3: Vector<S>)
            -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>, Vector<S>, Vector<S>)
        {
            let two: S = 2
            let four: S = 4
            let eight: S = 8
            let even: Vector<S> = y0 + y2
            let odd: Vector<S> = y1 + y3
            let even4: Vector<S> = y0 + four * y2
            let odd4: Vector<S> = two * y1 + eight * y3
            return (y0, even + odd, even - odd, even4 + odd4, even4 - odd4, y3)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 24) { scratch in
            let s = scratch.baseAddress!  // A y, [6, 4]
            for j in 0..<4 {
                let column = patch + j * columnStride
                let r = transform(
                    load(column), load(column + rowStride), load(column + 2 * rowStride),
                    load(column + 3 * rowStride))
                s[j] = r.0
                s[4 + j] = r.1
                s[8 + j] = r.2
                s[12 + j] = r.3
                s[16 + j] = r.4
                s[20 + j] = r.5
            }
            for i in 0..<6 {
                let row = s + i * 4
                let r = transform(row[0], row[1], row[2], row[3])
                let to = target + i * 6 * positionStride
                store(r.0, to)
                store(r.1, to + positionStride)
                store(r.2, to + 2 * positionStride)
                store(r.3, to + 3 * positionStride)
                store(r.4, to + 4 * positionStride)
                store(r.5, to + 5 * positionStride)
            }
        }
    }

    /// A y Aᵀ for F(4×4, 2×2) on 8 channels: y is 4×4 at `patch`, the 25 results go to
    /// `target + ξ·positionStride`.
    @inlinable @inline(__always)
    static func gradientTileF4Kernel2<S: TensorScalar>(
        _ patch: UnsafePointer<S>, rowStride: Int, columnStride: Int,
        _ target: UnsafeMutablePointer<S>, positionStride: Int
    ) {
        // A x for a column x of 4; A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 2 4 8; 0 0 0 1].
        @inline(__always)
        func transform(_ y0: Vector<S>, _ y1: Vector<S>, _ y2: Vector<S>, _ y3: Vector<S>)
            -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>, Vector<S>)
        {
            let two: S = 2
            let four: S = 4
            let eight: S = 8
            let even: Vector<S> = y0 + y2
            let odd: Vector<S> = y1 + y3
            return (y0, even + odd, even - odd, y0 + two * y1 + four * y2 + eight * y3, y3)
        }
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 20) { scratch in
            let s = scratch.baseAddress!  // A y, [5, 4]
            for j in 0..<4 {
                let column = patch + j * columnStride
                let r = transform(
                    load(column), load(column + rowStride), load(column + 2 * rowStride),
                    load(column + 3 * rowStride))
                s[j] = r.0
                s[4 + j] = r.1
                s[8 + j] = r.2
                s[12 + j] = r.3
                s[16 + j] = r.4
            }
            for i in 0..<5 {
                let row = s + i * 4
                let r = transform(row[0], row[1], row[2], row[3])
                let to = target + i * 5 * positionStride
                store(r.0, to)
                store(r.1, to + positionStride)
                store(r.2, to + 2 * positionStride)
                store(r.3, to + 3 * positionStride)
                store(r.4, to + 4 * positionStride)
            }
        }
    }

    /// A y Aᵀ for F(2×2, 3×3) on 8 channels: y is 2×2 at `patch`, the 16 results go to
    /// `target + ξ·positionStride`.
    @inlinable @inline(__always)
    static func gradientTileF2<S: TensorScalar>(
        _ patch: UnsafePointer<S>, rowStride: Int, columnStride: Int,
        _ target: UnsafeMutablePointer<S>, positionStride: Int
    ) {
        // A x for a column x of 2; A = [1 0; 1 1; 1 −1; 0 −1].
        @inline(__always)
        func transform(_ y0: Vector<S>, _ y1: Vector<S>)
            -> (Vector<S>, Vector<S>, Vector<S>, Vector<S>)
        {
            (y0, y0 + y1, y0 - y1, .zero - y1)
        }
        let top = transform(load(patch), load(patch + rowStride))
        let bottom = transform(
            load(patch + columnStride), load(patch + columnStride + rowStride))
        // Column 0 of the 2×2 tile gave `top`, column 1 `bottom`; now each row i.
        for (i, (left, right)) in [
            (top.0, bottom.0), (top.1, bottom.1), (top.2, bottom.2), (top.3, bottom.3),
        ].enumerated() {
            let r = transform(left, right)
            let to = target + i * 4 * positionStride
            store(r.0, to)
            store(r.1, to + positionStride)
            store(r.2, to + 2 * positionStride)
            store(r.3, to + 3 * positionStride)
        }
    }

    /// dg [O, C, r, r] = Gᵀ dU G for every dU = transformed[c, ·, o] `[α, α]`, 8 output
    /// channels at once.
    @inlinable
    static func untransformFilterGradient<S: TensorScalar>(
        _ plan: Plan, _ transformed: UnsafePointer<S>, into filterGradient: UnsafeMutablePointer<S>,
        level: SIMDLevel
    ) {
        let alpha = plan.variant.alpha
        let (channels, outputChannels) = (plan.geometry.channels, plan.outputChannels)
        if plan.variant != .f2x2, level > .portable {
            let (c, o) = (Int64(channels), Int64(outputChannels))
            let kernel2 = plan.variant == .f4x4Kernel2
            if let (x, y) = floats(transformed, filterGradient) {
                let avx2 = kernel2 ? nabla_winograd_filterGradient2_f32_avx2 : nabla_winograd_filterGradient_f32_avx2
                let avx512 = kernel2 ? nabla_winograd_filterGradient2_f32_avx512 : nabla_winograd_filterGradient_f32_avx512
                (level == .avx2 ? avx2 : avx512)(x, c, o, y)
            } else if let (x, y) = doubles(transformed, filterGradient) {
                let avx2 = kernel2 ? nabla_winograd_filterGradient2_f64_avx2 : nabla_winograd_filterGradient_f64_avx2
                let avx512 = kernel2 ? nabla_winograd_filterGradient2_f64_avx512 : nabla_winograd_filterGradient_f64_avx512
                (level == .avx2 ? avx2 : avx512)(x, c, o, y)
            }
            return
        }
        let r = plan.variant.kernel
        withUnsafeTemporaryAllocation(of: Vector<S>.self, capacity: 6 + 6 * 3) { scratch in
            let u = scratch.baseAddress!  // one row of dU
            let columns = u + 6  // dU G, [α, r]
            for c in 0..<channels {
                let source = transformed + c * alpha * alpha * outputChannels
                for o in stride(from: 0, to: outputChannels, by: Plan.lanes) {
                    let lanes = min(Plan.lanes, outputChannels - o)
                    for i in 0..<alpha {
                        let row = source + i * alpha * outputChannels + o
                        for j in 0..<alpha {
                            if lanes == Plan.lanes {
                                u[j] = load(row + j * outputChannels)
                            } else {
                                var value = Vector<S>()
                                for lane in 0..<lanes {
                                    value[lane] = row[j * outputChannels + lane]
                                }
                                u[j] = value
                            }
                        }
                        filterColumnTransposed(plan.variant, u, stride: 1, columns + i * r)
                    }
                    for j in 0..<r {
                        let column = u  // Gᵀ (dU G) column j, r values
                        filterColumnTransposed(plan.variant, columns + j, stride: r, column)
                        for lane in 0..<lanes {
                            let taps = filterGradient + ((o &+ lane) &* channels &+ c) &* (r &* r)
                            for i in 0..<r { taps[i &* r &+ j] = column[i][lane] }
                        }
                    }
                }
            }
        }
    }

    /// Gᵀ x for a column x of α at `x[0], x[stride], …`, written to `to[0]` … `to[r − 1]`.
    @inlinable @inline(__always)
    static func filterColumnTransposed<S: TensorScalar>(
        _ variant: Variant, _ x: UnsafePointer<Vector<S>>, stride: Int,
        _ to: UnsafeMutablePointer<Vector<S>>
    ) {
        let u0 = x[0]
        let u1 = x[stride]
        let u2 = x[2 * stride]
        let u3 = x[3 * stride]
        let half: S = 0.5
        if variant == .f4x4Kernel2 {  // Gᵀ = [½ −½ −⅙ ⅙ 0; 0 −½ ⅙ ⅓ 1]
            let u4 = x[4 * stride]
            let sixth: S = 1 / 6
            let third: S = 1 / 3
            to[0] = (u0 - u1) * half + (u3 - u2) * sixth
            to[1] = u1 * -half + u2 * sixth + u3 * third + u4
            return
        }
        if variant == .f2x2 {  // Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]
            let sum: Vector<S> = (u1 + u2) * half
            to[0] = u0 + sum
            to[1] = (u1 - u2) * half
            to[2] = sum + u3
            return
        }
        // Gᵀ = [¼ −⅙ −⅙ ¹⁄₂₄ ¹⁄₂₄ 0; 0 −⅙ ⅙ ¹⁄₁₂ −¹⁄₁₂ 0; 0 −⅙ −⅙ ⅙ ⅙ 1]
        let u4 = x[4 * stride]
        let u5 = x[5 * stride]
        let quarter: S = 0.25
        let sixth: S = 1 / 6
        let twelfth: S = 1 / 12
        let twentyFourth: S = 1 / 24
        let sum12: Vector<S> = u1 + u2
        let sum34: Vector<S> = u3 + u4
        to[0] = u0 * quarter - sum12 * sixth + sum34 * twentyFourth
        to[1] = (u2 - u1) * sixth + (u3 - u4) * twelfth
        to[2] = (sum34 - sum12) * sixth + u5
    }
}

// MARK: - Tensor-level convolution and input gradient

extension WinogradKernels {
    /// Whether Winograd computes ``conv2dBackwardInput(_:filter:inputShape:configuration:groups:)``
    /// for `geometry` faster than im2col: the forward convolution's conditions for the
    /// transposed convolution, which needs paddings of at most 2.
    @inlinable
    public static func paysForInputGradient(
        _ geometry: Convolution2DGeometry, outputChannels: Int
    ) -> Bool {
        let c = geometry.configuration
        guard supports(geometry), c.paddingHeight <= 2, c.paddingWidth <= 2 else { return false }
        return pays(
            inputGradientGeometry(geometry, outputChannels: outputChannels),
            outputChannels: geometry.channels)
    }

    /// The input gradient of an r×r, stride-1 convolution is the stride-1 convolution of the
    /// output gradient `[N, O, oh, ow]` with the filter rotated by 180° and its channel axes
    /// swapped, `[C, O, r, r]`, and padding r − 1 − p: this is that convolution's geometry.
    @inlinable
    static func inputGradientGeometry(
        _ geometry: Convolution2DGeometry, outputChannels: Int
    ) -> Convolution2DGeometry {
        let (c, r) = (geometry.configuration, geometry.kernelHeight)
        return Convolution2DGeometry(
            batch: geometry.batch, channels: outputChannels, height: geometry.outputHeight,
            width: geometry.outputWidth, kernelHeight: r, kernelWidth: r,
            configuration: .init(
                strideHeight: 1, strideWidth: 1, paddingHeight: r - 1 - c.paddingHeight,
                paddingWidth: r - 1 - c.paddingWidth, dilationHeight: 1, dilationWidth: 1))
    }

    /// ``Nabla/conv2d(_:filter:configuration:groups:)`` by Winograd F(4×4, 3×3), or F(4×4, 2×2)
    /// for a 2×2 filter, with a workspace allocated for the call.
    ///
    /// - Parameters:
    ///   - input: `[N, C, H, W]`, with the sizes of `geometry`.
    ///   - filter: `[O, C, r, r]`.
    ///   - bias: `[O]`, added to every output of its channel, or `nil`.
    ///   - geometry: The convolution's sizes and padding, one that ``supports(_:variant:)``
    ///     accepts (a 3 × 3 or 2 × 2 kernel with unit strides and dilations).
    ///   - spaceToDepthSource: The stride-2 4×4 convolution whose input `input` is, when
    ///     `geometry` is its space-to-depth 2×2 convolution; `nil` when `input` has `geometry`'s sizes.
    ///   - depthToSpaceTarget: The stride-2 4×4 convolution whose input gradient this is, when
    ///     `geometry` is its space-to-depth 2×2 convolution's input gradient and
    ///     ``SpaceToDepthConvolution/coversEveryPixel(_:)`` holds; `nil` for `[N, O, oh, ow]`.
    /// - Returns: `[N, O, oh, ow]`, or `depthToSpaceTarget`'s input shape `[N, C, H, W]`.
    @inlinable
    public static func conv2d<S: TensorScalar>(
        _ input: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>? = nil,
        geometry: Convolution2DGeometry, spaceToDepthSource: Convolution2DGeometry? = nil,
        depthToSpaceTarget: Convolution2DGeometry? = nil
    ) -> Tensor<S> {
        let outputChannels = filter.shape[0]
        let variant = Variant.fastest(forKernel: geometry.kernelHeight)
        let source = spaceToDepthSource
        let count = workspaceCount(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: source, scalar: S.self)
        return withWorkspace(S.self, count: count) { workspace in
            return Tensor(
                unsafeUninitializedShape: depthToSpaceTarget?.inputShape ?? [
                    geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth,
                ]
            ) { output in
                input.withUnsafeBufferPointer { input in
                    filter.withUnsafeBufferPointer { filter in
                        guard let bias else {
                            return convolution2D(
                                geometry, variant: variant, input: input, filter: filter, output: output,
                                workspace: workspace, spaceToDepthSource: source, depthToSpaceTarget: depthToSpaceTarget)
                        }
                        bias.withUnsafeBufferPointer { bias in
                            convolution2D(
                                geometry, variant: variant, input: input, filter: filter, bias: bias,
                                output: output, workspace: workspace, spaceToDepthSource: source,
                                depthToSpaceTarget: depthToSpaceTarget)
                        }
                    }
                }
            }
        }
    }

    /// ``Nabla/conv2dBackwardInput(_:filter:inputShape:configuration:groups:)`` by Winograd: the
    /// convolution of `outputGradient` with the rotated, transposed filter (see
    /// ``paysForInputGradient(_:outputChannels:)``).
    ///
    /// - Parameters:
    ///   - outputGradient: `[N, O, oh, ow]`.
    ///   - filter: `[O, C, r, r]`, r = 3 or 2.
    ///   - geometry: the forward convolution's, with paddings of at most r − 1.
    /// - Returns: `[N, C, H, W]`.
    @inlinable
    public static func conv2dBackwardInput<S: TensorScalar>(
        _ outputGradient: Tensor<S>, filter: Tensor<S>, geometry: Convolution2DGeometry
    ) -> Tensor<S> {
        let (outputChannels, channels) = (filter.shape[0], filter.shape[1])
        let taps = filter.shape[2] * filter.shape[3]
        // rotated[c, o, i, j] = filter[o, c, r − 1 − i, r − 1 − j]
        let rotated = Tensor<S>(unsafeUninitializedShape: [channels, outputChannels, filter.shape[2], filter.shape[3]]) {
            rotated in
            filter.withUnsafeBufferPointer { filter in
                for o in 0..<outputChannels {
                    for c in 0..<channels {
                        let from = (o * channels + c) * taps
                        let to = (c * outputChannels + o) * taps
                        for k in 0..<taps { rotated[to + k] = filter[from + taps - 1 - k] }
                    }
                }
            }
        }
        return conv2d(
            outputGradient, filter: rotated,
            geometry: inputGradientGeometry(geometry, outputChannels: outputChannels))
    }
}

extension WinogradKernels {
    /// ``Nabla/conv2dBackwardFilter(_:input:filterShape:configuration:groups:)`` by Winograd
    /// F(4×4, 3×3), or F(4×4, 2×2) for a 2×2 filter, with a workspace allocated for the call.
    ///
    /// - Parameters:
    ///   - outputGradient: `[N, O, oh, ow]`.
    ///   - input: `[N, C, H, W]`, with the sizes of `geometry`.
    ///   - outputChannels: `O`.
    ///   - geometry: The forward convolution's sizes, stride and padding.
    /// - Returns: `[O, C, r, r]`.
    @inlinable
    public static func conv2dBackwardFilter<S: TensorScalar>(
        _ outputGradient: Tensor<S>, input: Tensor<S>, outputChannels: Int,
        geometry: Convolution2DGeometry
    ) -> Tensor<S> {
        conv2dBackwardFilterAndBias(
            outputGradient, input: input, outputChannels: outputChannels, geometry: geometry,
            computesBiasGradient: false
        ).filter
    }

    /// The filter gradient as in ``conv2dBackwardFilter(_:input:outputChannels:geometry:)`` and,
    /// if `computesBiasGradient`, the bias gradient `[O]` (the output gradient summed over
    /// images and positions) from the same pass over the output gradient.
    @inlinable
    public static func conv2dBackwardFilterAndBias<S: TensorScalar>(
        _ outputGradient: Tensor<S>, input: Tensor<S>, outputChannels: Int,
        geometry: Convolution2DGeometry, computesBiasGradient: Bool,
        spaceToDepthSource: Convolution2DGeometry? = nil
    ) -> (filter: Tensor<S>, bias: Tensor<S>?) {
        let source = spaceToDepthSource
        var biasGradient = computesBiasGradient ? Tensor<S>.zeros(shape: [outputChannels]) : nil
        let r = geometry.kernelHeight
        let variant = Variant.fastest(forKernel: r)
        let count = workspaceCount(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: source, scalar: S.self)
        let filter = withWorkspace(S.self, count: count) { workspace in
            return Tensor(unsafeUninitializedShape: [outputChannels, geometry.channels, r, r]) {
                filterGradient in
                input.withUnsafeBufferPointer { input in
                    outputGradient.withUnsafeBufferPointer { outputGradient in
                        guard biasGradient != nil else {
                            return self.filterGradient(
                                geometry, variant: variant, input: input, outputGradient: outputGradient,
                                filterGradient: filterGradient, workspace: workspace, spaceToDepthSource: source)
                        }
                        biasGradient!.withUnsafeMutableBufferPointer { bias in
                            self.filterGradient(
                                geometry, variant: variant, input: input, outputGradient: outputGradient,
                                filterGradient: filterGradient, biasGradient: bias,
                                workspace: workspace, spaceToDepthSource: source)
                        }
                    }
                }
            }
        }
        return (filter, biasGradient)
    }
}

extension WinogradKernels {
    /// ``convolutionAndFilterGradient(_:variant:input:filter:output:outputGradient:filterGradient:inputChannelSums:workspace:spaceToDepthSource:groupBytes:)``
    /// on tensors, with a workspace allocated for the call: `conv2d(input, filter)` `[N, O, oh, ow]`,
    /// the filter gradient for `outputGradient` `[O, C, r, r]`, and `input` summed over axes 0, 2
    /// and 3 if `computesInputChannelSums`.
    @inlinable
    public static func conv2dAndBackwardFilter<S: TensorScalar>(
        _ input: Tensor<S>, filter: Tensor<S>, outputGradient: Tensor<S>, geometry: Convolution2DGeometry,
        computesInputChannelSums: Bool, spaceToDepthSource: Convolution2DGeometry? = nil,
        groupBytes: Int = onePassGroupBytes
    ) -> (output: Tensor<S>, filterGradient: Tensor<S>, inputChannelSums: Tensor<S>?) {
        let outputChannels = filter.shape[0]
        let variant = Variant.fastest(forKernel: geometry.kernelHeight)
        let plan = Plan(
            geometry, outputChannels: outputChannels, variant: variant, spaceToDepthSource: spaceToDepthSource,
            scalar: S.self)
        let inputChannels = spaceToDepthSource?.channels ?? geometry.channels
        var sums = computesInputChannelSums ? Tensor<S>.zeros(shape: [inputChannels]) : nil
        var filterGradient = Tensor<S>.zeros(shape: filter.shape)
        let output = withWorkspace(S.self, count: fusedWorkspaceCount(plan, groupBytes: groupBytes)) { workspace in
            Tensor<S>(unsafeUninitializedShape: outputGradient.shape) { output in
                input.withUnsafeBufferPointer { input in
                    filter.withUnsafeBufferPointer { filter in
                        outputGradient.withUnsafeBufferPointer { gradient in
                            filterGradient.withUnsafeMutableBufferPointer { filterGradient in
                                func run(_ sums: UnsafeMutableBufferPointer<S>?) {
                                    convolutionAndFilterGradient(
                                        geometry, variant: variant, input: input, filter: filter, output: output,
                                        outputGradient: gradient, filterGradient: filterGradient,
                                        inputChannelSums: sums, workspace: workspace,
                                        spaceToDepthSource: spaceToDepthSource, groupBytes: groupBytes)
                                }
                                guard sums != nil else { return run(nil) }
                                sums!.withUnsafeMutableBufferPointer { run($0) }
                            }
                        }
                    }
                }
            }
        }
        return (output, filterGradient, sums)
    }
}
