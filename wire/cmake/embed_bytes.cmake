# Writes the bytes of INPUT as a C array named NAME into OUTPUT, so that a
# binary file under wire/ is the one source of what the build embeds.
# Usage: cmake -DINPUT=... -DOUTPUT=... -DNAME=... -P embed_bytes.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
# Sixteen bytes a line: "0xab, " per byte.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " body "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f], " 16 line)
string(REGEX REPLACE "(${line})" "\\1\n    " body "${body}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated at build time from ${INPUT} (${size} bytes) by\n"
  "// wire/cmake/embed_bytes.cmake. Do not edit: change the file instead.\n"
  "static const uint8_t ${NAME}[] = {\n    ${body}};\n")
# Only a changed file touches OUTPUT, so rebuilds stay incremental.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
