/* Fuzz harness for the pickle subset (a torch.save state dict's data.pkl): any byte string
 * must parse into tensors or be refused with an error, never crash, leak or execute
 * anything. What parses must describe tensors within the limits the reader promises. */
#include <stdint.h>
#include <stdlib.h>

#include "olive/common.h"
#include "formats/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ofmt_pickle_tensor *t = NULL;
    size_t n = 0;
    if (olive_log_set_level(OLIVE_LOG_SILENT) != OLIVE_OK) /* a valid level: cannot fail */
        abort();
    if (ofmt_pickle_state_dict(&t, &n, data, size, "fuzz.pkl") != OLIVE_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].name || !t[i].storage_key || t[i].rank > OFMT_MAX_RANK)
            abort();
    }
    ofmt_pickle_tensors_free(t, n);
    return 0;
}
