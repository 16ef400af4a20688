"""Recurrent layer nodes: SimpleRNN, GRU, LSTM, Bidirectional. Sequences (T, F). Optional initial-state inputs:
connect an encoder's LSTM (with return_state) to both initial_h and initial_c and they take its h ('lstm_1:1') and
c ('lstm_1:2') outputs."""
from .base import layer_node

SimpleRNN = layer_node("SimpleRNN", state_inputs_from=1)
GRU = layer_node("GRU", state_inputs_from=1)
LSTM = layer_node("LSTM", state_inputs_from=1)
Bidirectional = layer_node("Bidirectional", state_inputs_from=1)
