// Compiles the template named by NABLA_TEMPLATE for Float and then Double, at the level that
// EachLevel.h has set (LEVEL, VECTOR_BYTES): the template also sees S, SCALAR_BYTES and SUFFIX.
#define S float
#define SCALAR_BYTES 4
#define SUFFIX f32
#include NABLA_TEMPLATE
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#define S double
#define SCALAR_BYTES 8
#define SUFFIX f64
#include NABLA_TEMPLATE
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
