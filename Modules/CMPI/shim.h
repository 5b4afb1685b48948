// Open MPI's handles are macros Swift cannot import (MPI_COMM_WORLD is a cast of a global's
// address): these inline functions return them.
#include <mpi.h>

static inline MPI_Comm nabla_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype nabla_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype nabla_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype nabla_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op nabla_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Errhandler nabla_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *nabla_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Request nabla_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *nabla_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
