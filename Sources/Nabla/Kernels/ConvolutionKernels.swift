
/// The im2col lowering of 2-D convolution over NCHW tensors, and its adjoint col2im.
///
/// im2col unrolls every kernel window into a column, so a convolution becomes one matrix
/// product with the filter viewed as `[outputChannels, channels·kh·kw]`.
public enum ConvolutionKernels {
    /// Writes the im2col matrix of `input` into `columns`.
    ///
    /// `input` is `[N, C, H, W]`; `columns` is `[C·kh·kw, N·oh·ow]`, row-major. Row
    /// `(c·kh + i)·kw + j` holds tap `(i, j)` of channel `c`; column `(n·oh + oy)·ow + ox` is
    /// the window of image `n` at output position `(oy, ox)`. Taps that fall in the padding are 0.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func im2col<S: TensorScalar>(
        _ geometry: Convolution2DGeometry,
        input: UnsafeBufferPointer<S>,
        columns: UnsafeMutableBufferPointer<S>
    ) {
        checkBuffers("im2col", geometry, input: input.count, columns: columns.count)
        guard columns.count > 0 else { return }
        // A large lowering splits its channels across the BLAS threads, which are idle now.
        let parts = columns.count >= 1 << 17 ? Swift.min(BLAS.threadCount, geometry.channels) : 1
        guard parts > 1 else {
            return im2col(geometry, input: input, columns: columns, channels: 0..<geometry.channels)
        }
        // Part p takes channels C·p/P ..< C·(p+1)/P: P non-empty ranges that cover C exactly.
        let channelCount = geometry.channels
        let buffers = UncheckedSendable((input, columns))
        WorkerPool.run(parts: parts) { part in
            let channels = (channelCount * part / parts)..<(channelCount * (part + 1) / parts)
            im2col(geometry, input: buffers.value.0, columns: buffers.value.1, channels: channels)
        }
    }

    /// im2col of the input's `channels`, writing only their rows of `columns`.
    @inlinable
    static func im2col<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        columns: UnsafeMutableBufferPointer<S>, channels: Range<Int>
    ) {
        let g = geometry
        let c = geometry.configuration
        let (height, width) = (g.height, g.width)
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let inputPlane = height * width
        let outputPlane = outputHeight * outputWidth
        let strideWidth = c.strideWidth
        let contiguousRows = strideWidth == 1 && c.strideHeight == 1 && outputWidth == width
        let source = input.baseAddress!
        // The start of the current im2col row.
        var row = columns.baseAddress!
            + channels.lowerBound * g.kernelHeight * g.kernelWidth * g.batch * outputPlane

        for channel in channels {
            for i in 0..<g.kernelHeight {
                let offsetY = i * c.dilationHeight - c.paddingHeight
                let rowsY = validOutputs(
                    offset: offsetY, stride: c.strideHeight, inputSize: height,
                    outputSize: outputHeight)
                for j in 0..<g.kernelWidth {
                    let offsetX = j * c.dilationWidth - c.paddingWidth
                    let rangeX = validOutputs(
                        offset: offsetX, stride: strideWidth, inputSize: width,
                        outputSize: outputWidth)
                    let (lowX, countX) = (rangeX.lowerBound, rangeX.count)
                    let tailX = outputWidth - rangeX.upperBound
                    for image in 0..<g.batch {
                        let plane = source + (image * g.channels + channel) * inputPlane
                        let block = row + image * outputPlane
                        // Output rows whose window row lies in the top or bottom padding.
                        block.update(repeating: 0, count: rowsY.lowerBound * outputWidth)
                        (block + rowsY.upperBound * outputWidth).update(
                            repeating: 0, count: (outputHeight - rowsY.upperBound) * outputWidth)
                        // "Same" rows (unit strides, output as wide as the input): the valid
                        // rows are one contiguous run of the plane, shifted by offsetX. Copy it
                        // at once, then zero the few entries at each row's ends that fall in
                        // the padding (the copy put neighbouring rows' values there).
                        if contiguousRows && countX > 0 && !rowsY.isEmpty {
                            let first = block + rowsY.lowerBound * outputWidth + lowX
                            let last = block + (rowsY.upperBound - 1) * outputWidth
                                + rangeX.upperBound
                            let inputY = rowsY.lowerBound + offsetY
                            first.update(
                                from: plane + inputY * width + lowX + offsetX, count: last - first)
                            for outputY in rowsY {
                                let target = block + outputY * outputWidth
                                for k in 0..<lowX { target[k] = 0 }
                                for k in rangeX.upperBound..<outputWidth { target[k] = 0 }
                            }
                            continue
                        }
                        for outputY in rowsY {
                            let target = block + outputY * outputWidth
                            target.update(repeating: 0, count: lowX)
                            (target + rangeX.upperBound).update(repeating: 0, count: tailX)
                            guard countX > 0 else { continue }
                            let inputY = outputY * c.strideHeight + offsetY
                            let from = plane + inputY * width + (lowX * strideWidth + offsetX)
                            if strideWidth == 1 {
                                (target + lowX).update(from: from, count: countX)
                            } else {
                                for k in 0..<countX { target[lowX + k] = from[k * strideWidth] }
                            }
                        }
                    }
                    row += g.batch * outputPlane
                }
            }
        }
    }

    /// Overwrites `input` with col2im of `columns`: every entry of `columns` is added back to the
    /// input element it was copied from by ``im2col(_:input:columns:)``; entries in the padding
    /// are dropped.
    ///
    /// This is the adjoint of im2col: `⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩`. Shapes are as in
    /// ``im2col(_:input:columns:)``: `columns` is `[C·kh·kw, N·oh·ow]`, `input` is `[N, C, H, W]`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func col2im<S: TensorScalar>(
        _ geometry: Convolution2DGeometry,
        columns: UnsafeBufferPointer<S>,
        input: UnsafeMutableBufferPointer<S>
    ) {
        checkBuffers("col2im", geometry, input: input.count, columns: columns.count)
        guard input.count > 0 else { return }
        input.update(repeating: 0)
        let g = geometry
        let c = geometry.configuration
        let (height, width) = (g.height, g.width)
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let inputPlane = height * width
        let outputPlane = outputHeight * outputWidth
        let strideWidth = c.strideWidth
        let target = input.baseAddress!
        var row = columns.baseAddress!

        for channel in 0..<g.channels {
            for i in 0..<g.kernelHeight {
                let offsetY = i * c.dilationHeight - c.paddingHeight
                let rowsY = validOutputs(
                    offset: offsetY, stride: c.strideHeight, inputSize: height,
                    outputSize: outputHeight)
                for j in 0..<g.kernelWidth {
                    let offsetX = j * c.dilationWidth - c.paddingWidth
                    let rangeX = validOutputs(
                        offset: offsetX, stride: strideWidth, inputSize: width,
                        outputSize: outputWidth)
                    let (lowX, countX) = (rangeX.lowerBound, rangeX.count)
                    guard countX > 0 else {
                        row += g.batch * outputPlane
                        continue
                    }
                    for image in 0..<g.batch {
                        let plane = target + (image * g.channels + channel) * inputPlane
                        let block = row + image * outputPlane
                        for outputY in rowsY {
                            let inputY = outputY * c.strideHeight + offsetY
                            let to = plane + inputY * width + (lowX * strideWidth + offsetX)
                            let from = block + outputY * outputWidth + lowX
                            if strideWidth == 1 {
                                for k in 0..<countX { to[k] += from[k] }
                            } else {
                                for k in 0..<countX { to[k * strideWidth] += from[k] }
                            }
                        }
                    }
                    row += g.batch * outputPlane
                }
            }
        }
    }

    /// The output positions `o` in `0..<outputSize` whose input index `o·stride + offset` lies
    /// in `0..<inputSize`: one contiguous range, so the inner loops need no bounds branch.
    @inlinable
    static func validOutputs(offset: Int, stride: Int, inputSize: Int, outputSize: Int)
        -> Range<Int>
    {
        // ⌈a / b⌉ for b > 0 and any sign of a.
        func ceilingDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -(-a / b) }
        let low = min(max(ceilingDivide(-offset, stride), 0), outputSize)
        let high = max(min(ceilingDivide(inputSize - offset, stride), outputSize), low)
        return low..<high
    }

    /// Checks the buffer sizes of im2col and col2im against `geometry`.
    @usableFromInline
    static func checkBuffers(
        _ op: String, _ geometry: Convolution2DGeometry, input: Int, columns: Int
    ) {
        Misuse.check(
            input == geometry.inputCount, op,
            "input \(geometry.inputShape) needs \(geometry.inputCount) scalars, but its buffer "
                + "has \(input)")
        let needed = geometry.columnRows * geometry.columnCount
        Misuse.check(
            columns == needed, op,
            "input \(geometry.inputShape) with kernel [\(geometry.kernelHeight), "
                + "\(geometry.kernelWidth)] and \(geometry.configuration) needs a "
                + "[\(geometry.columnRows), \(geometry.columnCount)] column matrix of \(needed) "
                + "scalars, but its buffer has \(columns)")
    }

    /// Copies `source`, shaped `[outer, inner, block]`, into `destination` as
    /// `[inner, outer, block]`: the permutation between `[N, O, oh·ow]` and `[O, N·oh·ow]`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func interchangeLeadingAxes<S: TensorScalar>(
        outer: Int, inner: Int, block: Int,
        source: UnsafeBufferPointer<S>, destination: UnsafeMutableBufferPointer<S>
    ) {
        Misuse.check(
            source.count == outer * inner * block && destination.count == source.count,
            "interchangeLeadingAxes",
            "[\(outer), \(inner), \(block)] needs \(outer * inner * block) scalars, but source "
                + "has \(source.count) and destination \(destination.count)")
        guard source.count > 0 else { return }
        let from = source.baseAddress!
        let to = destination.baseAddress!
        for o in 0..<outer {
            for i in 0..<inner {
                (to + (i * outer + o) * block).update(
                    from: from + (o * inner + i) * block, count: block)
            }
        }
    }
}

/// Buffers handed to parallel workers that write disjoint parts of them.
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}
