// The time loops of the recurrent layers at the tensor level, over Kernels/RecurrentKernels.swift.
// Time-major buffers: a step's rows are `batch` consecutive rows of every `[rows, ·]` tensor.

/// `[rows, width]` zeros whose first rows are `initial` (`[batch, width]`), if given: the state
/// buffer of a time loop, `h₀` (or `c₀`) first.
func recurrentStateRows<Scalar>(_ initial: Tensor<Scalar>?, rows: Int, width: Int) -> Tensor<Scalar> {
    var state = Tensor<Scalar>.zeros(shape: [rows, width])
    guard let initial else { return state }
    Misuse.check(
        initial.rank == 2 && initial.shape[1] == width && initial.shape[0] <= rows, "recurrentStateRows",
        "initial state \(initial.shape) for \(rows) rows of \(width)")
    initial.withUnsafeBufferPointer { source in
        state.withUnsafeMutableBufferPointer { target in
            _ = UnsafeMutableBufferPointer(rebasing: target.prefix(source.count)).update(fromContentsOf: source)
        }
    }
    return state
}

/// An LSTM direction forward over `steps` steps of `batch` rows, in place: `gates` (`[T·B, 4h]`)
/// holds `X·W_ihᵀ + b_ih + b_hh` and gets the activations i, f, g, o; `hidden` and `cell`
/// (`[(T + 1)·B, h]`) hold the initial state in their first rows and get every step's;
/// `tanhCell` (`[T·B, h]`) gets `tanh(c)` of each step.
func lstmForwardLoop<Scalar>(
    gates: inout Tensor<Scalar>, hidden: inout Tensor<Scalar>, cell: inout Tensor<Scalar>,
    tanhCell: inout Tensor<Scalar>, weightHH: Tensor<Scalar>, steps: Int, batch: Int
) {
    let h = weightHH.shape[1]
    weightHH.withUnsafeBufferPointer { w in
        gates.withUnsafeMutableBufferPointer { gates in
            hidden.withUnsafeMutableBufferPointer { hidden in
                cell.withUnsafeMutableBufferPointer { cell in
                    tanhCell.withUnsafeMutableBufferPointer { tanhCell in
                        RecurrentKernels.lstmForward(
                            gates: gates, hidden: hidden, cell: cell, tanhCell: tanhCell, weightHH: w,
                            steps: steps, batch: batch, hiddenSize: h)
                    }
                }
            }
        }
    }
}

/// An LSTM direction's backpropagation through time over what ``lstmForwardLoop`` saved:
/// `dHidden`, `dCell` (`[B, h]`) hold ∂L/∂(h_T, c_T) and end as ∂L/∂(h₀, c₀) when
/// `needsInitialState`; `sequenceGradient` (`[T·B, h]`), if any, adds to each step's ∂L/∂h.
/// Returns the gates' pre-activation gradients, `[T·B, 4h]`.
func lstmBackwardLoop<Scalar>(
    gates: Tensor<Scalar>, cell: Tensor<Scalar>, tanhCell: Tensor<Scalar>, weightHH: Tensor<Scalar>,
    sequenceGradient: Tensor<Scalar>?, dHidden: inout Tensor<Scalar>, dCell: inout Tensor<Scalar>,
    steps: Int, batch: Int, needsInitialState: Bool
) -> Tensor<Scalar> {
    let h = weightHH.shape[1]
    var dGates = Tensor<Scalar>.zeros(shape: [steps * batch, 4 * h])
    weightHH.withUnsafeBufferPointer { w in
        gates.withUnsafeBufferPointer { gates in
            cell.withUnsafeBufferPointer { cell in
                tanhCell.withUnsafeBufferPointer { tanhCell in
                    withOptionalBuffer(sequenceGradient) { sequence in
                        dGates.withUnsafeMutableBufferPointer { dGates in
                            dHidden.withUnsafeMutableBufferPointer { dHidden in
                                dCell.withUnsafeMutableBufferPointer { dCell in
                                    RecurrentKernels.lstmBackward(
                                        gates: gates, cell: cell, tanhCell: tanhCell, weightHH: w,
                                        sequenceGradient: sequence, dHidden: dHidden, dCell: dCell, dGates: dGates,
                                        steps: steps, batch: batch, hiddenSize: h, needsInitialState: needsInitialState)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return dGates
}

/// A GRU direction forward, in place: `gates` (`[T·B, 3h]`) holds `X·W_ihᵀ + b_ih` and gets the
/// activations r, z, n; `hidden` (`[(T + 1)·B, h]`) holds h₀ first and gets every step's.
/// Returns `W_hn h + b_hn` of each step, `[T·B, h]`, which the backward reads.
func gruForwardLoop<Scalar>(
    gates: inout Tensor<Scalar>, hidden: inout Tensor<Scalar>, weightHH: Tensor<Scalar>,
    biasHH: Tensor<Scalar>, steps: Int, batch: Int
) -> Tensor<Scalar> {
    let h = weightHH.shape[1]
    var hiddenCandidate = Tensor<Scalar>.zeros(shape: [steps * batch, h])
    var fromHidden = Tensor<Scalar>.zeros(shape: [batch, 3 * h])
    weightHH.withUnsafeBufferPointer { w in
        biasHH.withUnsafeBufferPointer { bias in
            gates.withUnsafeMutableBufferPointer { gates in
                hidden.withUnsafeMutableBufferPointer { hidden in
                    hiddenCandidate.withUnsafeMutableBufferPointer { hiddenCandidate in
                        fromHidden.withUnsafeMutableBufferPointer { fromHidden in
                            RecurrentKernels.gruForward(
                                gates: gates, hidden: hidden, hiddenCandidate: hiddenCandidate,
                                fromHidden: fromHidden, weightHH: w, biasHH: bias, steps: steps, batch: batch,
                                hiddenSize: h)
                        }
                    }
                }
            }
        }
    }
    return hiddenCandidate
}

/// A GRU direction's backpropagation through time: `dHidden` (`[B, h]`) holds ∂L/∂h_T and ends
/// as ∂L/∂h₀ when `needsInitialState`. Returns the gradients of `X·W_ihᵀ + b_ih` and of
/// `h·W_hhᵀ + b_hh`, each `[T·B, 3h]`.
func gruBackwardLoop<Scalar>(
    gates: Tensor<Scalar>, hiddenCandidate: Tensor<Scalar>, hidden: Tensor<Scalar>,
    weightHH: Tensor<Scalar>, sequenceGradient: Tensor<Scalar>?, dHidden: inout Tensor<Scalar>,
    steps: Int, batch: Int, needsInitialState: Bool
) -> (fromInput: Tensor<Scalar>, fromHidden: Tensor<Scalar>) {
    let h = weightHH.shape[1]
    var dFromInput = Tensor<Scalar>.zeros(shape: [steps * batch, 3 * h])
    var dFromHidden = Tensor<Scalar>.zeros(shape: [steps * batch, 3 * h])
    weightHH.withUnsafeBufferPointer { w in
        gates.withUnsafeBufferPointer { gates in
            hiddenCandidate.withUnsafeBufferPointer { hiddenCandidate in
                hidden.withUnsafeBufferPointer { hidden in
                    withOptionalBuffer(sequenceGradient) { sequence in
                        dFromInput.withUnsafeMutableBufferPointer { dFromInput in
                            dFromHidden.withUnsafeMutableBufferPointer { dFromHidden in
                                dHidden.withUnsafeMutableBufferPointer { dHidden in
                                    RecurrentKernels.gruBackward(
                                        gates: gates, hiddenCandidate: hiddenCandidate, hidden: hidden,
                                        weightHH: w, sequenceGradient: sequence, dHidden: dHidden,
                                        dFromInput: dFromInput, dFromHidden: dFromHidden, steps: steps,
                                        batch: batch, hiddenSize: h, needsInitialState: needsInitialState)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (dFromInput, dFromHidden)
}

/// Calls `body` with the scalars of `tensor`, or with `nil`.
private func withOptionalBuffer<Scalar, R>(_ tensor: Tensor<Scalar>?, _ body: (UnsafeBufferPointer<Scalar>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0) }
}
