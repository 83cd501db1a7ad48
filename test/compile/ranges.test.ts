import t from 'tap';
import { mergeRanges } from '../../src/compile/ranges';

t.same(mergeRanges([]), []);
t.same(mergeRanges(['1.2.3.4']), [['1.2.3.4', '1.2.3.4']], 'an address is a /32');
t.same(mergeRanges(['0.0.0.0/0']), [['0.0.0.0', '255.255.255.255']]);
t.same(
  mergeRanges(['10.1.0.0/16', '10.1.2.0/24', 'example.com', '10.2.0.0/16', '9.0.0.0/8']),
  [['9.0.0.0', '9.255.255.255'], ['10.1.0.0', '10.2.255.255']],
  'contained and adjacent ranges merge, names are ignored, output is sorted',
);
t.same(mergeRanges(['10.0.0.1', '10.0.0.3']), [['10.0.0.1', '10.0.0.1'], ['10.0.0.3', '10.0.0.3']]);
