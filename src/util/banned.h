/* banned.h: functions that overflow buffers. Included in every translation
 * unit by the Makefile (git's banned.h). Use allot_buf or snprintf. */
#ifndef ALLOT_BANNED_H
#define ALLOT_BANNED_H
#define BANNED(func) sorry_##func##_is_a_banned_function
#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#endif
