// im2col and col2im with the column matrix transposed, `[N·oh·ow, C·kh·kw]`: one row per window.
// A window's kw taps in one kernel row are adjacent on both sides (in the row and, at dilation 1,
// in the image), so they move as one short vector instead of one strided scalar at a time. The
// image goes through zero-padded planes that hold every window, so the loops test no bounds.

extension ConvolutionKernels {
    /// The planes that hold every window of `geometry`, padding included: `(oh − 1)·sh +
    /// dh·(kh − 1) + 1` rows and likewise columns, starting at row and column `−padding` of the
    /// image. Rows and columns of the image past them are read by no window.
    @inlinable
    static func paddedPlaneSize(_ geometry: Convolution2DGeometry) -> (height: Int, width: Int) {
        let g = geometry
        let c = g.configuration
        return (
            (g.outputHeight - 1) * c.strideHeight + c.dilationHeight * (g.kernelHeight - 1) + 1,
            (g.outputWidth - 1) * c.strideWidth + c.dilationWidth * (g.kernelWidth - 1) + 1
        )
    }

    /// The scalars of one image's padded planes, the scratch of the transposed-column kernels.
    @inlinable
    static func paddedImageCount(_ geometry: Convolution2DGeometry) -> Int {
        let size = paddedPlaneSize(geometry)
        return geometry.channels * size.height * size.width
    }

    /// Writes the transpose of the im2col matrix of `input` (of its `channels`, all by default)
    /// into `transposedColumns`.
    ///
    /// `input` is `[N, C, H, W]`; `transposedColumns` is `[N·oh·ow, c·kh·kw]` for the `c` channels,
    /// row-major: row `(n·oh + oy)·ow + ox` is the window of image `n` at `(oy, ox)` and entry
    /// `(c·kh + i)·kw + j` its tap `(i, j)` of the `c`-th channel (0 in the padding). `padded` is
    /// scratch of at least ``paddedImageCount(_:)`` scalars.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func im2col<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        transposedColumns: UnsafeMutableBufferPointer<S>, padded: UnsafeMutableBufferPointer<S>,
        channels: Range<Int>? = nil
    ) {
        let g = geometry
        let channels = channels ?? 0..<g.channels
        let (window, positions) = (g.kernelHeight * g.kernelWidth, g.outputHeight * g.outputWidth)
        let width = channels.count * window
        Misuse.check(
            channels.lowerBound >= 0 && channels.upperBound <= g.channels, "im2col",
            "channels \(channels) are not among the \(g.channels) of input \(g.inputShape)")
        Misuse.check(
            input.count == g.inputCount && transposedColumns.count == g.batch * positions * width,
            "im2col",
            "input \(g.inputShape) with kernel [\(g.kernelHeight), \(g.kernelWidth)] and "
                + "\(g.configuration) needs \(g.inputCount) scalars and [\(g.batch * positions), "
                + "\(width)] transposed columns for channels \(channels), but has \(input.count) "
                + "and \(transposedColumns.count)")
        checkPadded("im2col", g, padded.count)
        guard transposedColumns.count > 0 else { return }
        let c = g.configuration
        let size = paddedPlaneSize(g)
        let (plane, rowStep) = (size.height * size.width, c.dilationHeight * size.width)
        let block = channelsPerBlock(g, scalar: S.self)
        let imagePlanes = g.height * g.width
        for image in 0..<g.batch {
            let padded = padded.baseAddress!
            pad(
                g, channels: channels.count,
                image: input.baseAddress! + (image * g.channels + channels.lowerBound) * imagePlanes,
                into: padded)
            let rows = transposedColumns.baseAddress! + image * positions * width
            for first in stride(from: 0, to: channels.count, by: block) {
                let count = min(block, channels.count - first)
                for oy in 0..<g.outputHeight {
                    for ox in 0..<g.outputWidth {
                        copyWindows(
                            g, channels: count, plane: plane, rowStep: rowStep,
                            from: padded + first * plane + oy * c.strideHeight * size.width
                                + ox * c.strideWidth,
                            to: rows + (oy * g.outputWidth + ox) * width + first * window)
                    }
                }
            }
        }
    }

    /// Overwrites `input` with col2im of `transposedColumns`, laid out as in
    /// ``im2col(_:input:transposedColumns:padded:)``: every entry is added to the input element
    /// it was copied from; entries in the padding are dropped. `padded` is scratch of at least
    /// ``paddedImageCount(_:)`` scalars. With `bias` (`[C]`), `bias[c]` is added to every element
    /// of channel `c`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func col2im<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, transposedColumns: UnsafeBufferPointer<S>,
        input: UnsafeMutableBufferPointer<S>, padded: UnsafeMutableBufferPointer<S>,
        bias: UnsafeBufferPointer<S>? = nil
    ) {
        Misuse.check(
            bias.map { $0.count == geometry.channels } ?? true, "col2im",
            "bias has \(bias?.count ?? 0) scalars, but the input \(geometry.inputShape) has "
                + "\(geometry.channels) channels")
        checkBuffers("col2im", geometry, input: input.count, columns: transposedColumns.count)
        checkPadded("col2im", geometry, padded.count)
        guard input.count > 0 else { return }
        let g = geometry
        let c = g.configuration
        let size = paddedPlaneSize(g)
        let (plane, rowStep) = (size.height * size.width, c.dilationHeight * size.width)
        let (window, positions) = (g.kernelHeight * g.kernelWidth, g.outputHeight * g.outputWidth)
        let block = channelsPerBlock(g, scalar: S.self)
        let imageCount = g.channels * g.height * g.width
        for image in 0..<g.batch {
            let padded = padded.baseAddress!
            padded.update(repeating: 0, count: g.channels * plane)
            let rows = transposedColumns.baseAddress! + image * positions * g.columnRows
            for first in stride(from: 0, to: g.channels, by: block) {
                let channels = min(block, g.channels - first)
                for oy in 0..<g.outputHeight {
                    for ox in 0..<g.outputWidth {
                        addWindows(
                            g, channels: channels, plane: plane, rowStep: rowStep,
                            from: rows + (oy * g.outputWidth + ox) * g.columnRows + first * window,
                            to: padded + first * plane + oy * c.strideHeight * size.width
                                + ox * c.strideWidth)
                    }
                }
            }
            crop(g, padded: padded, into: input.baseAddress! + image * imageCount, bias: bias)
        }
    }

    /// The channels whose padded planes fill about 16 KB, so that a pass over all windows of
    /// a block of them runs in L1.
    @inlinable
    static func channelsPerBlock<S: TensorScalar>(_ geometry: Convolution2DGeometry, scalar: S.Type) -> Int {
        let size = paddedPlaneSize(geometry)
        return max(1, (1 << 14) / (size.height * size.width * MemoryLayout<S>.stride))
    }

    /// Copies the windows of `channels` planes at `from` (`plane` scalars apart, kernel rows
    /// `rowStep` apart) into one row of transposed columns, `channels·kh·kw` scalars at `to`.
    @inlinable @inline(__always)
    static func copyWindows<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, channels: Int, plane: Int, rowStep: Int,
        from: UnsafePointer<S>, to: UnsafeMutablePointer<S>
    ) {
        let (kh, kw, dw) = (geometry.kernelHeight, geometry.kernelWidth, geometry.configuration.dilationWidth)
        var to = to
        // A whole 4×4 window as one 16-scalar store; other 4-wide kernel rows as one vector
        // each; any other through copyTaps.
        if kh == 4 && kw == 4 && dw == 1 {
            for channel in 0..<channels {
                let from = from + channel * plane
                let window = SIMD16(
                    lowHalf: SIMD8(lowHalf: load4(from), highHalf: load4(from + rowStep)),
                    highHalf: SIMD8(lowHalf: load4(from + 2 * rowStep), highHalf: load4(from + 3 * rowStep)))
                UnsafeMutableRawPointer(to + 16 * channel).storeBytes(of: window, as: SIMD16<S>.self)
            }
            return
        }
        if kw == 4 && dw == 1 {
            for channel in 0..<channels {
                var from = from + channel * plane
                for _ in 0..<kh {
                    copy4(from: from, to: to)
                    from += rowStep
                    to += 4
                }
            }
            return
        }
        for channel in 0..<channels {
            var from = from + channel * plane
            for _ in 0..<kh {
                copyTaps(kw, dilation: dw, from: from, to: to)
                from += rowStep
                to += kw
            }
        }
    }

    /// Adds one row of transposed columns, `channels·kh·kw` scalars at `from`, into the windows
    /// of `channels` planes at `to` (`plane` scalars apart, kernel rows `rowStep` apart).
    @inlinable @inline(__always)
    static func addWindows<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, channels: Int, plane: Int, rowStep: Int,
        from: UnsafePointer<S>, to: UnsafeMutablePointer<S>
    ) {
        let (kh, kw, dw) = (geometry.kernelHeight, geometry.kernelWidth, geometry.configuration.dilationWidth)
        var from = from
        // A whole 4×4 window as one 16-scalar load; other 4-wide kernel rows as one vector
        // each; any other through addTaps.
        if kh == 4 && kw == 4 && dw == 1 {
            for channel in 0..<channels {
                let window = UnsafeRawPointer(from + 16 * channel).loadUnaligned(as: SIMD16<S>.self)
                let to = to + channel * plane
                add(window.lowHalf.lowHalf, to: to)
                add(window.lowHalf.highHalf, to: to + rowStep)
                add(window.highHalf.lowHalf, to: to + 2 * rowStep)
                add(window.highHalf.highHalf, to: to + 3 * rowStep)
            }
            return
        }
        if kw == 4 && dw == 1 {
            for channel in 0..<channels {
                var to = to + channel * plane
                for _ in 0..<kh {
                    add4(from: from, to: to)
                    to += rowStep
                    from += 4
                }
            }
            return
        }
        for channel in 0..<channels {
            var to = to + channel * plane
            for _ in 0..<kh {
                addTaps(kw, dilation: dw, from: from, to: to)
                to += rowStep
                from += kw
            }
        }
    }

    /// Copies `channels` planes of an image (`[channels, H, W]` at `image`) into the padded
    /// planes, zeros around them.
    @inlinable
    static func pad<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, channels: Int, image: UnsafePointer<S>,
        into padded: UnsafeMutablePointer<S>
    ) {
        let g = geometry
        let c = g.configuration
        let size = paddedPlaneSize(g)
        // Padded (py, px) holds image (py − paddingHeight, px − paddingWidth): these rows and
        // columns are in the image.
        let rows = max(0, min(g.height, size.height - c.paddingHeight))
        let columns = max(0, min(g.width, size.width - c.paddingWidth))
        if rows < size.height || columns < size.width {
            padded.update(repeating: 0, count: channels * size.height * size.width)
        }
        // Row by row in vectors: a call to memmove per row of a small image costs more.
        for channel in 0..<channels {
            let from = image + channel * g.height * g.width
            let to = padded + (channel * size.height + c.paddingHeight) * size.width + c.paddingWidth
            for y in 0..<rows {
                copyTaps(columns, dilation: 1, from: from + y * g.width, to: to + y * size.width)
            }
        }
    }

    /// Copies the image's `[C, H, W]` planes out of the padded planes, adding `bias[c]` to
    /// channel `c` if given; image elements past them (read by no window) are 0 (or the bias).
    @inlinable
    static func crop<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, padded: UnsafePointer<S>, into image: UnsafeMutablePointer<S>,
        bias: UnsafeBufferPointer<S>?
    ) {
        let g = geometry
        let c = g.configuration
        let size = paddedPlaneSize(g)
        let rows = max(0, min(g.height, size.height - c.paddingHeight))
        let columns = max(0, min(g.width, size.width - c.paddingWidth))
        if rows < g.height || columns < g.width {
            image.update(repeating: 0, count: g.channels * g.height * g.width)
        }
        for channel in 0..<g.channels {
            let from = padded + (channel * size.height + c.paddingHeight) * size.width + c.paddingWidth
            let to = image + channel * g.height * g.width
            guard let bias else {
                for y in 0..<rows {
                    copyTaps(columns, dilation: 1, from: from + y * size.width, to: to + y * g.width)
                }
                continue
            }
            let offset = bias[channel]
            for y in 0..<rows {
                copyTaps(columns, adding: offset, from: from + y * size.width, to: to + y * g.width)
            }
            // Elements read by no window hold the bias alone.
            for y in 0..<g.height {
                for x in (y < rows ? columns : 0)..<g.width { to[y * g.width + x] = offset }
            }
        }
    }

    /// The four scalars at `p`.
    @inlinable @inline(__always)
    static func load4<S: TensorScalar>(_ p: UnsafePointer<S>) -> SIMD4<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<S>.self)
    }

    /// `to[0..<4] += value`.
    @inlinable @inline(__always)
    static func add<S: TensorScalar>(_ value: SIMD4<S>, to: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(to).storeBytes(of: load4(to) + value, as: SIMD4<S>.self)
    }

    /// `to[0..<4] = from[0..<4]`.
    @inlinable @inline(__always)
    static func copy4<S: TensorScalar>(from: UnsafePointer<S>, to: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(to).storeBytes(
            of: UnsafeRawPointer(from).loadUnaligned(as: SIMD4<S>.self), as: SIMD4<S>.self)
    }

    /// `to[0..<4] += from[0..<4]`.
    @inlinable @inline(__always)
    static func add4<S: TensorScalar>(from: UnsafePointer<S>, to: UnsafeMutablePointer<S>) {
        let sum = UnsafeRawPointer(to).loadUnaligned(as: SIMD4<S>.self)
            + UnsafeRawPointer(from).loadUnaligned(as: SIMD4<S>.self)
        UnsafeMutableRawPointer(to).storeBytes(of: sum, as: SIMD4<S>.self)
    }

    /// `to[j] = from[j·dilation]` for `j` in `0..<count`; when adjacent, four at a time and a
    /// last four (or two) overlapping the ones before, instead of a scalar loop.
    @inlinable @inline(__always)
    static func copyTaps<S: TensorScalar>(
        _ count: Int, dilation: Int, from: UnsafePointer<S>, to: UnsafeMutablePointer<S>
    ) {
        guard dilation == 1 else {
            for j in 0..<count { to[j] = from[j * dilation] }
            return
        }
        guard count >= 4 else {
            guard count >= 2 else {
                if count == 1 { to[0] = from[0] }
                return
            }
            copy2(from: from, to: to)
            copy2(from: from + count - 2, to: to + count - 2)
            return
        }
        var j = 0
        while j + 4 <= count {
            copy4(from: from + j, to: to + j)
            j += 4
        }
        if j < count { copy4(from: from + count - 4, to: to + count - 4) }
    }

    /// `to[j] = from[j] + offset` for `j` in `0..<count`, four at a time and a last four
    /// overlapping the ones before (the same sums again), instead of a scalar loop.
    @inlinable @inline(__always)
    static func copyTaps<S: TensorScalar>(
        _ count: Int, adding offset: S, from: UnsafePointer<S>, to: UnsafeMutablePointer<S>
    ) {
        guard count >= 4 else {
            for j in 0..<count { to[j] = from[j] + offset }
            return
        }
        let offsets = SIMD4(repeating: offset)
        func add4(_ j: Int) {
            UnsafeMutableRawPointer(to + j).storeBytes(of: load4(from + j) + offsets, as: SIMD4<S>.self)
        }
        var j = 0
        while j + 4 <= count {
            add4(j)
            j += 4
        }
        if j < count { add4(count - 4) }
    }

    /// `to[0..<2] = from[0..<2]`.
    @inlinable @inline(__always)
    static func copy2<S: TensorScalar>(from: UnsafePointer<S>, to: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(to).storeBytes(
            of: UnsafeRawPointer(from).loadUnaligned(as: SIMD2<S>.self), as: SIMD2<S>.self)
    }

    /// `to[j·dilation] += from[j]` for `j` in `0..<count`, four at a time when adjacent.
    @inlinable @inline(__always)
    static func addTaps<S: TensorScalar>(
        _ count: Int, dilation: Int, from: UnsafePointer<S>, to: UnsafeMutablePointer<S>
    ) {
        guard dilation == 1 else {
            for j in 0..<count { to[j * dilation] += from[j] }
            return
        }
        var j = 0
        while j + 4 <= count {
            add4(from: from + j, to: to + j)
            j += 4
        }
        while j < count {
            to[j] += from[j]
            j += 1
        }
    }

    /// Checks the padded scratch of the transposed-column kernels against `geometry`.
    @usableFromInline
    static func checkPadded(_ op: String, _ geometry: Convolution2DGeometry, _ count: Int) {
        let needed = paddedImageCount(geometry)
        Misuse.check(
            count >= needed, op,
            "input \(geometry.inputShape) with kernel [\(geometry.kernelHeight), "
                + "\(geometry.kernelWidth)] and \(geometry.configuration) needs \(needed) scalars "
                + "of padded scratch, but it has \(count)")
    }
}
