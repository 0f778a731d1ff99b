/* libolive — umbrella header: include this to use the library.
 * Link with `pkg-config --libs libolive`. */
#ifndef OLIVE_H
#define OLIVE_H

#include "olive/common.h"
#include "olive/model.h"
#include "olive/pass.h"
#include "olive/accelerator.h"
#include "olive/engine.h"
#include "olive/workflow.h"
#include "olive/session.h"
#include "olive/tokenizer.h"
#include "olive/evaluate.h"
#include "olive/adapter.h"

#endif
