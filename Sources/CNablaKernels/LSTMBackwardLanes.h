// An LSTM cell's pointwise backward step for one scalar type at one level, for RecurrentCells.c.
// Expects S, SUFFIX, LEVEL, VECTOR_BYTES and the target attribute pushed. The operations are
// LSTMCellKernels.backwardStep's, in its order, contraction off; the tail runs them on scalars,
// which round as the vector lanes do.

#define LSTM_NAME2(suffix, level) nabla_lstm_backward_step_##suffix##_##level
#define LSTM_NAME1(suffix, level) LSTM_NAME2(suffix, level)
#define LSTM_TYPE2(suffix, level) LSTMLanes_##suffix##_##level
#define LSTM_TYPE1(suffix, level) LSTM_TYPE2(suffix, level)
#define V LSTM_TYPE1(SUFFIX, LEVEL)
#define LANES ((int64_t)(VECTOR_BYTES / sizeof(S)))

typedef S V __attribute__((vector_size(VECTOR_BYTES)));

// One element or one vector of elements: T is S or V.
#define LSTM_BACKWARD(T, i, f, g, o, t, dh, dcIn, previousCell, di, df, dg, do_, dcOut) \
    do { \
        const T cellGradient = (dcIn) + (dh) * (o) * (1 - (t) * (t)); \
        di = cellGradient * (g) * ((i) * (1 - (i))); \
        df = cellGradient * (previousCell) * ((f) * (1 - (f))); \
        dg = cellGradient * (i) * (1 - (g) * (g)); \
        do_ = (dh) * (t) * ((o) * (1 - (o))); \
        dcOut = cellGradient * (f); \
    } while (0)

#define LSTM_LOAD2(suffix, level) lstmLoad_##suffix##_##level
#define LSTM_LOAD1(suffix, level) LSTM_LOAD2(suffix, level)
#define LOAD LSTM_LOAD1(SUFFIX, LEVEL)
static inline V LOAD(const S *p) { V v; __builtin_memcpy(&v, p, sizeof v); return v; }

void LSTM_NAME1(SUFFIX, LEVEL)(const S *gates, const S *saved, const S *previousCell, S *dHidden,
    S *dCell, S *dGates, int64_t batch, int64_t h) {
    for (int64_t b = 0; b < batch; b++) {
        const S *row = gates + b * 4 * h;
        S *dRow = dGates + b * 4 * h;
        const int64_t k0 = b * h;
        int64_t j = 0;
        for (; j + LANES <= h; j += LANES) {
            const int64_t k = k0 + j;
            V di, df, dg, do_, dc;
            LSTM_BACKWARD(V, LOAD(row + j), LOAD(row + h + j),
                LOAD(row + 2 * h + j), LOAD(row + 3 * h + j),
                LOAD(saved + k), LOAD(dHidden + k),
                LOAD(dCell + k), LOAD(previousCell + k),
                di, df, dg, do_, dc);
            __builtin_memcpy(dRow + j, &di, sizeof di);
            __builtin_memcpy(dRow + h + j, &df, sizeof df);
            __builtin_memcpy(dRow + 2 * h + j, &dg, sizeof dg);
            __builtin_memcpy(dRow + 3 * h + j, &do_, sizeof do_);
            __builtin_memcpy(dCell + k, &dc, sizeof dc);
            const V zero = {};
            __builtin_memcpy(dHidden + k, &zero, sizeof zero);
        }
        for (; j < h; j++) {
            const int64_t k = k0 + j;
            S di, df, dg, do_, dc;
            LSTM_BACKWARD(S, row[j], row[h + j], row[2 * h + j], row[3 * h + j], saved[k], dHidden[k],
                dCell[k], previousCell[k], di, df, dg, do_, dc);
            dRow[j] = di;
            dRow[h + j] = df;
            dRow[2 * h + j] = dg;
            dRow[3 * h + j] = do_;
            dCell[k] = dc;
            dHidden[k] = 0;
        }
    }
}

#undef LSTM_BACKWARD
#undef LOAD
#undef LANES
#undef V
