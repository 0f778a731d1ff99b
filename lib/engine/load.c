/* Loading a model file: an ONNX model, or a source checkpoint that the convert pass reads. */
#include "core/alloc.h"
#include "core/status.h"
#include "engine/engine.h"
#include "formats/checkpoint.h"
#include "onnx/onnx_io.h"

int olive_engine_load_model(oir_model **out, const char *path)
{
    oir_model *ir;
    /* A source checkpoint is only recorded here; the convert pass reads it. Its headers and
     * config are read once now (the weights stay mapped, untouched), so a damaged checkpoint
     * is refused when it is loaded rather than passing for an empty model. */
    if (ofmt_checkpoint_probe(path)) {
        ofmt_checkpoint *ck = NULL;
        OLIVE_TRY(ofmt_checkpoint_open(&ck, path));
        ofmt_checkpoint_free(ck);
        if (!(ir = oir_model_new()) || !(ir->checkpoint_path = olive_strdup(path))) {
            oir_model_free(ir);
            return OLIVE_ENOMEM;
        }
        *out = ir;
        return OLIVE_OK;
    }
    return onnx_load_file(out, path);
}
