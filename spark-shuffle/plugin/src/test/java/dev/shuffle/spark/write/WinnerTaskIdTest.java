package dev.shuffle.spark.write;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WinnerTaskIdTest {
  private static long winner(long own, long winner) {
    return NodeShuffleWriter.winnerTaskId(own, (int) winner);
  }

  @Test
  void theWinnersTaskAttemptIdIsRecoveredFromItsLow32Bits() {
    assertEquals(17, winner(42, 17));
    assertEquals(90, winner(42, 90));
    long big = (5L << 32) + 10;
    assertEquals(big - 20, winner(big, big - 20)); // across a 2^32 boundary: below
    long near = (5L << 32) - 3;
    assertEquals(near + 8, winner(near, near + 8)); // and above
  }
}
