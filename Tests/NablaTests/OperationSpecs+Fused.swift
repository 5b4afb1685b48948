import Foundation
import Testing

@testable import Nabla

// Rows for the fused ops of the autodiff path, with naive loop references.

/// `rows` of a matrix, copied element by element.
func naiveRows(_ x: Tensor<Double>, _ rows: Range<Int>) -> Tensor<Double> {
    let width = x.shape[1]
    return Tensor(shape: [rows.count, width], scalars: rows.flatMap { r in (0..<width).map { x[r, $0] } })
}

extension OperationSpec {
    static let fused: [OperationSpec] = [
        .init(name: "lstmCell", inputShapes: [[3, 8], [3, 8], [3, 2]], domain: .any,
              double: { DOps.lstmCell(fromInput: $0[0], fromHidden: $0[1], cell: $0[2]) },
              float: { FOps.lstmCell(fromInput: $0[0], fromHidden: $0[1], cell: $0[2]) },
              reference: { naiveLSTMCell($0[0], $0[1], $0[2]) }),
        .init(name: "gruCell", inputShapes: [[3, 6], [3, 6], [3, 2]], domain: .any,
              double: { DOps.gruCell(fromInput: $0[0], fromHidden: $0[1], hidden: $0[2]) },
              float: { FOps.gruCell(fromInput: $0[0], fromHidden: $0[1], hidden: $0[2]) },
              reference: { naiveGRUCell($0[0], $0[1], $0[2]) }),
        .init(name: "lstmStep", inputShapes: [[3, 8], [2, 3, 2], [8, 2]], domain: .any,
              double: { DOps.lstmStep(fromInput: $0[0], state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
              float: { FOps.lstmStep(fromInput: $0[0], state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
              reference: { naiveLSTMStep($0[0], $0[1], $0[2]) }),
        .init(name: "lstmStep(rows)", inputShapes: [[9, 8], [2, 3, 2], [8, 2]], domain: .any,
              double: { DOps.lstmStep(fromInput: $0[0], rows: middleRows($0), state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
              float: { FOps.lstmStep(fromInput: $0[0], rows: middleRows($0), state: $0[1], weightHH: $0[2], weightHHTransposed: $0[2].value.transposed()) },
              reference: { naiveLSTMStep(naiveRows($0[0], 3..<6), $0[1], $0[2]) }),
        .init(name: "concatenate(rows:of:)", inputShapes: [[2, 3, 2], [2, 3, 2], [2, 3, 2]], domain: .any,
              double: { DOps.concatenate(rows: 1..<2, of: $0) }, float: { FOps.concatenate(rows: 1..<2, of: $0) },
              reference: { x in
                  Tensor(shape: [3, 3, 2], scalars: x.flatMap { t in (0..<3).flatMap { i in (0..<2).map { t[1, i, $0] } } })
              }),
        .init(name: "gruStep(rows)", inputShapes: [[7, 6], [3, 2], [6, 2], [6]], domain: .any,
              double: { DOps.gruStep(fromInput: $0[0], rows: lastRows($0), hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed()) },
              float: { FOps.gruStep(fromInput: $0[0], rows: lastRows($0), hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed()) },
              reference: { naiveGRUCell(naiveRows($0[0], 4..<7), naiveMatrixProduct($0[1], $0[2].transposed()) + $0[3], $0[1]) }),
        .init(name: "gruStep", inputShapes: [[3, 6], [3, 2], [6, 2], [6]], domain: .any,
              double: { DOps.gruStep(fromInput: $0[0], hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed()) },
              float: { FOps.gruStep(fromInput: $0[0], hidden: $0[1], weightHH: $0[2], biasHH: $0[3], weightHHTransposed: $0[2].value.transposed()) },
              reference: { naiveGRUCell($0[0], naiveMatrixProduct($0[1], $0[2].transposed()) + $0[3], $0[1]) }),
        conv2dRow("conv2d(bias, one channel)", input: [2, 1, 5, 4], filter: [3, 1, 3, 3], bias: true, .init(stride: 1, padding: 1)),
        .init(name: "batchNorm(training, [N, C, L])", inputShapes: [[3, 2, 4], [2], [2]], domain: .any,
              double: { DOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0, 2], epsilon: 1e-3) },
              float: { FOps.batchNorm($0[0], scale: $0[1], offset: $0[2], axes: [0, 2], epsilon: 1e-3) },
              reference: { x in naiveBatchNorm(x[0], axes: [0, 2], scale: x[1], offset: x[2], epsilon: 1e-3) }),
        .init(name: "linear", inputShapes: [[3, 4], [2, 4], [2]], domain: .any,
              double: { DOps.linear($0[0], weight: $0[1], bias: $0[2]) },
              float: { FOps.linear($0[0], weight: $0[1], bias: $0[2]) },
              reference: { x in naiveMatrixProduct(x[0], x[1].transposed()) + x[2] }),
        .init(name: "affineNormalize(instance, γ per channel)", inputShapes: [[2, 3, 4], [3], [3]], domain: .any,
              double: { affineInstanceNorm($0) }, float: { affineInstanceNorm($0) },
              reference: { naiveInstanceNorm($0[0], scale: $0[1], offset: $0[2], epsilon: 1e-3) }),
    ]
}

private func logistic(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

/// `[2, B, h]`: h' then c', element by element.
func naiveLSTMCell(_ a: Tensor<Double>, _ b: Tensor<Double>, _ c: Tensor<Double>) -> Tensor<Double> {
    let (batch, h) = (c.shape[0], c.shape[1])
    var out = [Double](repeating: 0, count: 2 * batch * h)
    for n in 0..<batch {
        for j in 0..<h {
            func gate(_ k: Int) -> Double { a[n, k * h + j] + b[n, k * h + j] }
            let cell = logistic(gate(1)) * c[n, j] + logistic(gate(0)) * Foundation.tanh(gate(2))
            out[n * h + j] = logistic(gate(3)) * Foundation.tanh(cell)
            out[batch * h + n * h + j] = cell
        }
    }
    return Tensor(shape: [2, batch, h], scalars: out)
}

/// `[2, B, h]`: h' then c' of an LSTM step from `fromInput`, the state `[h, c]` and `W_hh`.
func naiveLSTMStep(_ fromInput: Tensor<Double>, _ state: Tensor<Double>, _ weightHH: Tensor<Double>) -> Tensor<Double> {
    let (batch, h) = (state.shape[1], state.shape[2])
    let hidden = state.slice(alongAxis: 0, 0..<1).reshaped(to: [batch, h])
    let cell = state.slice(alongAxis: 0, 1..<2).reshaped(to: [batch, h])
    return naiveLSTMCell(fromInput, naiveMatrixProduct(hidden, weightHH.transposed()), cell)
}

/// `[B, h]`: h', element by element.
func naiveGRUCell(_ x: Tensor<Double>, _ s: Tensor<Double>, _ hidden: Tensor<Double>) -> Tensor<Double> {
    let (batch, h) = (hidden.shape[0], hidden.shape[1])
    var out = [Double](repeating: 0, count: batch * h)
    for n in 0..<batch {
        for j in 0..<h {
            let r = logistic(x[n, j] + s[n, j]), z = logistic(x[n, h + j] + s[n, h + j])
            let candidate = Foundation.tanh(x[n, 2 * h + j] + r * s[n, 2 * h + j])
            out[n * h + j] = (1 - z) * candidate + z * hidden[n, j]
        }
    }
    return Tensor(shape: [batch, h], scalars: out)
}

/// `[N, C, P]` normalized over each image's channel, then `γ[c]`, `β[c]`, element by element.
func naiveInstanceNorm(_ x: Tensor<Double>, scale: Tensor<Double>, offset: Tensor<Double>, epsilon: Double) -> Tensor<Double> {
    let (n, c, p) = (x.shape[0], x.shape[1], x.shape[2])
    var out = [Double](repeating: 0, count: n * c * p)
    for image in 0..<n {
        for channel in 0..<c {
            let values = (0..<p).map { x[image, channel, $0] }
            let mean = values.reduce(0, +) / Double(p)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(p)
            for i in 0..<p {
                out[(image * c + channel) * p + i] =
                    (values[i] - mean) / (variance + epsilon).squareRoot() * scale[channel] + offset[channel]
            }
        }
    }
    return Tensor(shape: [n, c, p], scalars: out)
}
