/* The classic first image: a static binary on an empty (scratch) base. */
#include <stdio.h>

int
main(void)
{
  printf("hello world!\n");
  return 0;
}
