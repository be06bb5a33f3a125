/* instruction.h: what a request asks for, apart from what it carries.
 *
 * Agent requests put a short instruction next to long material: documents,
 * code, logs, tool output, earlier turns. The kind of work is read from the
 * instruction only (../shared/KINDS.md: "summarise this security audit" is
 * summarize), so the classifier first finds it:
 *
 *  - the system prompt (its first SYSTEM_READ bytes) is a secondary zone;
 *  - of the last user turn, fenced code blocks, XML-style tagged blocks and
 *    quoted ("> ") blocks are material, and so are the paragraphs between
 *    the first and the last of a long turn; the first and last paragraphs
 *    are the instruction (only their outer edges when they are long);
 *  - earlier turns and tool results are material: only counted.
 *
 * Of the text read from the user turn, the opening (HEAD: up to the first
 * line that ends in ':', at most ALLOT_VIEW_HEAD bytes) and the closing
 * (TAIL) are where instructions are written; the rest (BODY) is often
 * material that needs no fence, such as a list of items or log lines. When
 * one edge paragraph is long and the other short, the long one is material
 * and is not read: no HEAD (or TAIL) then. The features weigh each zone on
 * its own (features.h).
 *
 * The view holds slices into the request and a few counts of the material;
 * it is cheap to build (one memchr pass over the user turn, no copies) and
 * reads a bounded number of bytes of text however long the request. */
#ifndef ALLOT_INSTRUCTION_H
#define ALLOT_INSTRUCTION_H
#include <stddef.h>
#include <stdint.h>
#include "allot/slice.h"

struct allot_chat_request;

/* The parts of a request the classifier reads; slices point into the
 * parsed request (or, in tests, into string literals). */
struct allot_instruction {
    struct allot_slice system;    /* system prompt text */
    struct allot_slice last_user; /* last user turn text */
    size_t n_messages;
    size_t n_tool_results;
    size_t material_bytes; /* text of all messages but the two above */
    int has_tools;
    int has_response_format;
    int last_is_tool; /* the last message is a tool result: an agent loop */
};

/* Fill in from a parsed request (slices point into it). */
void allot_instruction_from_request(const struct allot_chat_request *r,
                                    struct allot_instruction *out);

enum allot_zone {
    ALLOT_ZONE_HEAD = 0,   /* the opening of the user turn's instruction */
    ALLOT_ZONE_TAIL = 1,   /* the closing of the user turn */
    ALLOT_ZONE_BODY = 2,   /* the rest of the instruction text read */
    ALLOT_ZONE_SYSTEM = 3, /* the system prompt */
};

#define ALLOT_VIEW_MAX_SPANS 12
#define ALLOT_VIEW_SHORT_TURN 1500 /* a user turn this short is read whole (but material) */
#define ALLOT_VIEW_EDGE 400        /* bytes read of a long edge paragraph */
#define ALLOT_VIEW_HEAD 300        /* bytes of HEAD, at most (less when a line ends in ':') */
#define ALLOT_VIEW_TAIL 240        /* bytes of TAIL, at most */
#define ALLOT_VIEW_SYSTEM_READ 1200

/* Material the user turn carries, as flags. */
enum {
    ALLOT_MAT_FENCE = 1 << 0,   /* ``` or ~~~ blocks */
    ALLOT_MAT_TAGGED = 1 << 1,  /* <doc> ... </doc> blocks */
    ALLOT_MAT_QUOTED = 1 << 2,  /* "> " blocks */
    ALLOT_MAT_PASTED = 1 << 3,  /* long paragraphs between the edges */
    ALLOT_MAT_DIFF = 1 << 4,    /* lines starting "@@ " or "+++ " */
    ALLOT_MAT_TABULAR = 1 << 5, /* lines with several commas, tabs or pipes */
    ALLOT_MAT_JSON = 1 << 6,    /* a block that opens with { or [ */
    ALLOT_MAT_LIST = 1 << 7,    /* five or more list items or numbered lines */
};

struct allot_span {
    const char *ptr;
    uint32_t len;
    uint8_t zone; /* enum allot_zone */
};

struct allot_instruction_view {
    struct allot_span spans[ALLOT_VIEW_MAX_SPANS]; /* system first, then in text order */
    size_t n_spans;
    size_t instruction_bytes; /* bytes of user-turn spans */
    size_t turn_bytes;        /* bytes of the whole last user turn */
    unsigned n_documents;     /* separate pieces of material: blocks, separators */
    unsigned material_flags;  /* ALLOT_MAT_* */
    int question;             /* the instruction ends with '?' */
};

/* Build the view of in. Never fails; an empty request gives no spans. */
void allot_instruction_view(const struct allot_instruction *in, struct allot_instruction_view *out);

#endif
