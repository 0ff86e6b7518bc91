#ifndef SCRIBE_CTESSERACT_SHIM_H
#define SCRIBE_CTESSERACT_SHIM_H

// Imported in C mode: with C++ interop, capi.h switches to the C++ typedefs
// and its enums (TessPageSegMode, ...) are lost.
#include <tesseract/capi.h>
#include <leptonica/allheaders.h>

#endif
