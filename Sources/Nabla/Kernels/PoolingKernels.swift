import CNablaKernels

/// The loops of 2-D pooling over NCHW buffers, sized by a ``Convolution2DGeometry`` whose
/// `channels` are pooled independently (dilation 1).
public enum PoolingKernels {
    /// The input rows (or columns) that output position `o` covers, padding removed; never
    /// empty when padding is at most half the window.
    @inlinable
    static func windows(stride: Int, padding: Int, kernel: Int, size: Int, outputs: Int)
        -> [Range<Int>]
    {
        (0..<outputs).map { o in
            let start = o * stride - padding
            return Swift.max(start, 0)..<Swift.min(start + kernel, size)
        }
    }

    /// Calls `body(o, base, rows, columns)` for every window in row-major output order: `o` is
    /// the output offset, `base` the offset of the window's input plane, and `rows` and
    /// `columns` the input rows and columns it covers.
    @inlinable @inline(__always)
    static func forEachWindow(
        _ g: Convolution2DGeometry, _ body: (Int, Int, Range<Int>, Range<Int>) -> Void
    ) {
        let c = g.configuration
        let rows = windows(
            stride: c.strideHeight, padding: c.paddingHeight, kernel: g.kernelHeight,
            size: g.height, outputs: g.outputHeight)
        let columns = windows(
            stride: c.strideWidth, padding: c.paddingWidth, kernel: g.kernelWidth,
            size: g.width, outputs: g.outputWidth)
        var o = 0
        for plane in 0..<(g.batch * g.channels) {
            let base = plane * g.height * g.width
            for rowRange in rows {
                for columnRange in columns {
                    body(o, base, rowRange, columnRange)
                    o += 1
                }
            }
        }
    }

    /// Writes each window's maximum to `output` and its row-major input offset to `indices`.
    /// `input` is `[N, C, H, W]`; `output` and `indices` are `[N, C, oh, ow]`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func maxPool<S: TensorScalar>(
        _ g: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        output: UnsafeMutableBufferPointer<S>, indices: UnsafeMutableBufferPointer<Int>
    ) {
        Misuse.checkPoolingBuffers("maxPool", g, input: input.count, pooled: output.count)
        Misuse.check(
            indices.count == output.count, "maxPool",
            "\(indices.count) indices for \(output.count) pooled scalars")
        guard output.count > 0 else { return }
        let source = input.baseAddress!
        let c = g.configuration
        if c.paddingHeight == 0 && c.paddingWidth == 0 {
            return maxPoolUnpadded(g, source, output.baseAddress!, indices.baseAddress!)
        }
        forEachWindow(g) { o, base, rowRange, columnRange in
            var bestIndex = base + rowRange.lowerBound * g.width + columnRange.lowerBound
            var best = source[bestIndex]
            for y in rowRange {
                let row = base + y * g.width
                for x in columnRange {
                    let v = source[row + x]
                    if v > best || (v.isNaN && !best.isNaN) {
                        best = v
                        bestIndex = row + x
                    }
                }
            }
            output[o] = best
            indices[o] = bestIndex
        }
    }

    /// ``maxPool(_:input:output:indices:)`` without padding, where every window lies inside
    /// its plane: straight pointer loops, and the 2×2, stride-2 window unrolled.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func maxPoolUnpadded<S: TensorScalar>(
        _ g: Convolution2DGeometry, _ source: UnsafePointer<S>,
        _ output: UnsafeMutablePointer<S>, _ indices: UnsafeMutablePointer<Int>
    ) {
        let c = g.configuration
        let (width, plane) = (g.width, g.height * g.width)
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let isTwoByTwo = g.kernelHeight == 2 && g.kernelWidth == 2 && c.strideWidth == 2
        if isTwoByTwo && S.self == Float.self {
            let level = KernelFamily.maxPooling.levelForRun()
            if level > .portable {
                let sizes = (
                    Int64(g.batch * g.channels), Int64(g.height), Int64(width), Int64(outputHeight),
                    Int64(outputWidth), Int64(c.strideHeight))
                let floats = cast(source, Float.self)
                let pooled = cast(output, Float.self)
                let offsets = cast(indices, Int64.self)
                (level == .avx2 ? nabla_max_pool_2x2_f32_avx2 : nabla_max_pool_2x2_f32_avx512)(
                    floats, sizes.0, sizes.1, sizes.2, sizes.3, sizes.4, sizes.5, pooled, offsets)
                return
            }
        }
        // Ties keep the first in window order; a NaN wins unless a NaN came first. Written as
        // two comparisons and no short circuit, so the choice compiles to conditional moves:
        // the maxima are unpredictable, and branches on them cost more than the comparisons.
        @inline(__always) func beats(_ v: S, _ best: S) -> Bool { !(v <= best) && best == best }
        var o = 0
        for p in 0..<(g.batch * g.channels) {
            for oy in 0..<outputHeight {
                let top = p * plane + oy * c.strideHeight * width
                if isTwoByTwo {
                    var ox = 0
                    if S.self == Float.self && width < 1 << 30 {  // eight windows at a time
                        ox = maxPoolTwoByTwoFloat(
                            cast(source + top, Float.self), width: width,
                            outputWidth: outputWidth, firstIndex: top,
                            output: cast(output + o, Float.self),
                            indices: indices + o)
                        o += ox
                    }
                    for ox in ox..<outputWidth {
                        var index = top + 2 * ox
                        var best = source[index]
                        let first = index
                        for offset in 0..<3 {
                            let candidate = first + (offset == 0 ? 1 : width + offset - 1)
                            let value = source[candidate]
                            let wins = beats(value, best)
                            best = wins ? value : best
                            index = wins ? candidate : index
                        }
                        output[o] = best
                        indices[o] = index
                        o += 1
                    }
                    continue
                }
                for ox in 0..<outputWidth {
                    let corner = top + ox * c.strideWidth
                    var index = corner
                    var best = source[index]
                    for i in 0..<g.kernelHeight {
                        for j in 0..<g.kernelWidth {
                            let candidate = corner + i * width + j
                            let value = source[candidate]
                            let wins = beats(value, best)
                            best = wins ? value : best
                            index = wins ? candidate : index
                        }
                    }
                    output[o] = best
                    indices[o] = index
                    o += 1
                }
            }
        }
    }

    /// The 2×2, stride-2 windows of one output row, eight at a time: deinterleaves 16 scalars of
    /// each input row into the windows' left and right columns. Returns how many outputs it wrote
    /// (a multiple of 8); the caller does the rest.
    @inlinable
    static func maxPoolTwoByTwoFloat(
        _ top: UnsafePointer<Float>, width: Int, outputWidth: Int, firstIndex: Int,
        output: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int>
    ) -> Int {
        var ox = 0
        let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
        while ox + 8 <= outputWidth {
            let upper = UnsafeRawPointer(top + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
            let lower = UnsafeRawPointer(top + 2 * ox + width).loadUnaligned(as: SIMD16<Float>.self)
            var best = upper.evenHalf
            var offset = lanes
            // Ties keep the first tap; a NaN wins unless a NaN came first.
            var wins = .!(upper.oddHalf .<= best) .& (best .== best)
            best.replace(with: upper.oddHalf, where: wins)
            offset.replace(with: lanes &+ 1, where: wins)
            wins = .!(lower.evenHalf .<= best) .& (best .== best)
            best.replace(with: lower.evenHalf, where: wins)
            offset.replace(with: lanes &+ Int32(width), where: wins)
            wins = .!(lower.oddHalf .<= best) .& (best .== best)
            best.replace(with: lower.oddHalf, where: wins)
            offset.replace(with: lanes &+ Int32(width + 1), where: wins)
            UnsafeMutableRawPointer(output + ox).storeBytes(of: best, as: SIMD8<Float>.self)
            let first = firstIndex + 2 * ox
            for lane in 0..<8 { indices[ox + lane] = first + Int(offset[lane]) }
            ox += 8
        }
        return ox
    }

    /// Writes each window's sum divided by `kh · kw` to `output`. `input` is `[N, C, H, W]`,
    /// `output` `[N, C, oh, ow]`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func averagePool<S: TensorScalar>(
        _ g: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        output: UnsafeMutableBufferPointer<S>
    ) {
        Misuse.checkPoolingBuffers("averagePool", g, input: input.count, pooled: output.count)
        guard output.count > 0 else { return }
        let scale = 1 / S(g.kernelHeight * g.kernelWidth)
        let source = input.baseAddress!
        forEachWindow(g) { o, base, rowRange, columnRange in
            var sum: S = 0
            for y in rowRange {
                let row = source + base + y * g.width
                for x in columnRange { sum += row[x] }
            }
            output[o] = sum * scale
        }
    }

    /// Overwrites `input` with the adjoint of ``averagePool(_:input:output:)`` applied to
    /// `pooled`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func averagePoolAdjoint<S: TensorScalar>(
        _ g: Convolution2DGeometry, pooled: UnsafeBufferPointer<S>,
        input: UnsafeMutableBufferPointer<S>
    ) {
        Misuse.checkPoolingBuffers(
            "averagePoolAdjoint", g, input: input.count, pooled: pooled.count)
        guard input.count > 0 else { return }
        input.update(repeating: 0)
        let scale = 1 / S(g.kernelHeight * g.kernelWidth)
        let target = input.baseAddress!
        forEachWindow(g) { o, base, rowRange, columnRange in
            let v = pooled[o] * scale
            for y in rowRange {
                let row = target + base + y * g.width
                for x in columnRange { row[x] += v }
            }
        }
    }
}
