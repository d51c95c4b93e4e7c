/*
 * edgekit, TFLM projects on Arduino cores: including the TFLM Arduino library's header makes the Arduino/PlatformIO
 * library finder build that library (projects with edgekit's runtime do not include it).
 */
#include <TensorFlowLite.h>
