/* The curve-fit data readers (.npy and raw files mapped, CSV/TSV, HDF5),
 * each opening into a source allocated by fitcl__source_alloc.  Internal. */
#ifndef FITCL_IO_SOURCE_READERS_H
#define FITCL_IO_SOURCE_READERS_H

#include "nlsq/source.h"

fitcl_status fitcl__source_open_mapped(fitcl_source *src, const fitcl_source_options *opt,
                                       int raw);
fitcl_status fitcl__source_open_csv(fitcl_source *src, const fitcl_source_options *opt,
                                    char delim);
fitcl_status fitcl__source_open_hdf5(fitcl_source *src, const fitcl_source_options *opt);

#endif
