// Not guarded with CBLAS_H: that is OpenBLAS's own include guard.
#define LAPACK_COMPLEX_STRUCTURE
#include <cblas.h>
#include <lapacke.h>
