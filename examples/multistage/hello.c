/* The program the multi-stage example compiles: greets its arguments. */
#include <stdio.h>

int
main(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    printf("hello, %s!\n", argv[i]);
  if (argc < 2)
    printf("hello!\n");
  return 0;
}
